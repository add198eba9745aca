"""`mkdocs build --strict` passes, and the built HTML reads as a reader should see it: every
registered component and the public API documented, formatted text instead of reStructuredText,
no escaped pipes, no script from another host, code coloured when the site is built."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from videollm_core.plugins import PluginManager
from videollm_core.registry import ROLES, Registries

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj|const):(?:`|<code>)"  # a cross-reference role
                  r"|:(?:param|type|returns?|rtype|raises?)(?:\s+\w+)?:\s")  # a Sphinx field
EXTERNAL = re.compile(r"""<(?:script|img|iframe)\b[^>]*\bsrc=["'](?:https?:)?//"""  # a script, picture or frame
                      r"""|<link\b(?=[^>]*\brel=["'](?:stylesheet|preload|modulepreload|prefetch)["'])[^>]*\bhref=["'](?:https?:)?//""",
                      re.I)  # a style sheet or font; not a link a reader follows (rel="canonical", <a href>)
pytestmark = pytest.mark.subprocess  # the session's one `mkdocs build` (tests/docs/conftest.py)


def page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def texts(site: Path) -> dict[str, str]:
    """Every built page, and the search index (what search results show), by path."""
    found = {str(p.relative_to(site)): p.read_text(encoding="utf-8") for p in site.rglob("*.html")}
    found["search/search_index.json"] = (site / "search" / "search_index.json").read_text(encoding="utf-8")
    return found


def where(text: str, at: int) -> str:
    """The documented object (mkdocstrings' heading id, else the component's) that ``text[at]`` belongs to."""
    ids = re.findall(r'id="([\w.]+)"', text[:at])
    return ids[-1] if ids else "(the page)"


def test_mkdocs_build_strict_lists_every_component(built_site):
    registries = Registries()
    PluginManager(registries, autoload=False).load()
    reference = page(built_site, "reference/components")
    for role in ROLES:
        for name in registries[role].names():
            assert f'id="{name.lower()}"' in reference, f"{role} {name} missing from the built reference"
    tasks = page(built_site, "tasks")
    assert "videollm:tasks" not in tasks and "OnlineActionDetectionHead" in tasks
    for name in ("quickstart", "concepts", "architecture", "configuration", "writing-plugins", "paper", "troubleshooting"):
        assert (built_site / name / "index.html").is_file()


def test_no_restructuredtext_escaped_pipe_or_foreign_script(built_site):
    problems = []
    for name, text in texts(built_site).items():
        problems += [f"{name}: reST {m.group(0)!r} in the docstring of {where(text, m.start())}" for m in ROLE.finditer(text)]
        problems += [f"{name}: escaped pipe in {text[max(0, m.start() - 40):m.end() + 10]!r}"
                     for m in list(re.finditer(r"\\\|", text))[:3]]
        problems += [f"{name}: loads {m.group(0)!r} from another host" for m in EXTERNAL.finditer(text)]
    assert not problems, "\n".join(problems[:40])


def test_scan_catches_what_it_looks_for():
    """The patterns above find the faults they are meant to find (a scan that finds nothing proves nothing)."""
    assert ROLE.search("see :class:`TemporalUnitEncoder`") and ROLE.search("the :attr:<code>skipped</code>")
    assert ROLE.search(":param registries: one registry") and not ROLE.search("ratio 1:2, `model.context: {window}`")
    assert EXTERNAL.search('<script src="https://cdn.example.org/highlight.min.js">')
    assert EXTERNAL.search('<link rel="stylesheet" href="//fonts.example.com/css">')
    assert not EXTERNAL.search('<script src="../assets/javascripts/bundle.js">')
    assert EXTERNAL.search('<link href="https://fonts.gstatic.com/s.woff2" rel="preload">')
    assert not EXTERNAL.search('<a href="https://arxiv.org/abs/2305.13292">')  # a link is not a script
    assert not EXTERNAL.search('<link rel="canonical" href="https://example.org/tasks/">')


def test_api_reference_documents_the_public_api(built_site):
    api, contracts = page(built_site, "reference/api"), page(built_site, "reference/plugin-api")
    for obj in ("videollm_core.config.load_config", "videollm_core.validation.validate_config",
                "videollm_core.pipeline.build_pipeline", "videollm_core.engine.runner.Runner",
                "videollm_core.pipeline.VideoLLM.save_pretrained", "videollm_core.pipeline.VideoLLM.from_pretrained",
                "videollm_core.engine.pretrained.save_pretrained", "videollm_core.engine.pretrained.load_pretrained",
                "videollm_core.errors.ConfigError"):
        assert f'id="{obj}"' in api, f"{obj} is not documented in the Python API page"
    from videollm_core import base, hookspecs

    for name in ("Encoder", "EncoderStream", "TextEncoder", "Translator", "TranslatorStream", "LLMAdapter", "Tuner",
                 "TaskHead", "VideoDataset", "Metric", "FeatureSource"):
        assert f'id="{getattr(base, name).__module__}.{name}"' in contracts, f"base class {name} missing"
    for spec in [n for n in dir(hookspecs) if n.startswith("videollm_")]:
        assert f'id="videollm_core.hookspecs.{spec}"' in contracts, f"hook spec {spec} missing"
    # parameters as tables (Google-style sections rendered by mkdocstrings), with their types
    load_config = api[api.index('id="videollm_core.config.load_config"'):]
    assert re.search(r"<table>.*?<th>Name</th>.*?<code>path</code>", load_config[:6000], re.S)
    assert "<code>int &#124; None</code>" in page(built_site, "reference/components")  # shown as int | None


def test_theme_has_dark_mode_copy_buttons_and_source_links(built_site):
    home, quickstart = page(built_site, ""), page(built_site, "quickstart")
    assert 'data-md-color-media="(prefers-color-scheme: dark)"' in home and 'class="md-sidebar md-sidebar--primary"' in home
    assert '"content.code.copy"' in quickstart  # Material's copy button on every code block
    assert re.search(r'<a href="https://[^"]+/edit/main/docs/quickstart\.md"', quickstart)  # the page's edit link
    assert 'class="md-source"' in home and 'data-md-component="source"' not in home  # a link, no GitHub API call


def test_code_is_coloured_and_pictures_are_in_place(built_site):
    quickstart = page(built_site, "quickstart")
    assert re.search(r'<div class="language-bash highlight"><pre>.*?<span class="', quickstart, re.S)  # Pygments, at build time
    assert "hljs" not in quickstart and "highlight.min.js" not in quickstart
    for name, picture in (("architecture", "img/pipeline.svg"), ("benchmarks", "img/streaming.svg"),
                          ("tasks", "img/tasks/oad.png")):
        assert picture in page(built_site, name), f"{name} does not show {picture}"
        assert (built_site / picture).is_file()
    for png in (Path(__file__).resolve().parents[2] / "docs" / "img" / "tasks").glob("*.png"):
        assert png.stat().st_size < 150_000, f"{png.name} is over 150 KB"
