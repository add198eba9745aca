"""examples/plugins/videollm-example-plugin: the scaffold's template rendered for its name; it installs,
loads, and passes its own tests (which train its YAML)."""
from __future__ import annotations

import fnmatch
import shutil

import pytest

from videollm_core.cli.scaffold import PluginNames, render
from videollm_docs_install import REPO, bin_path, install_and_list, run

PACKAGE = REPO / "examples" / "plugins" / "videollm-example-plugin"
#: build and run outputs, never part of the package.
OUTPUTS = ("build", "*.egg-info", "__pycache__", "work_dirs", ".pytest_cache")


def test_example_plugin_is_what_new_plugin_writes():
    """Regenerate after a template change: videollm new-plugin videollm-example-plugin --dest examples/plugins --force
    (and delete the files the template no longer has)."""
    files = render(PluginNames.from_name(PACKAGE.name))
    on_disk = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*")
               if p.is_file() and not any(fnmatch.fnmatch(part, pattern) for part in p.relative_to(PACKAGE).parts for pattern in OUTPUTS)}
    assert on_disk == set(files), f"only in the example: {sorted(on_disk - set(files))}; only in the template: {sorted(set(files) - on_disk)}"
    for rel, text in files.items():
        assert (PACKAGE / rel).read_text(encoding="utf-8") == text, f"{rel} differs from the template's rendering"


@pytest.mark.subprocess
def test_example_plugin_installs_and_passes_its_tests(tmp_path):
    copy = tmp_path / "videollm-example-plugin"  # build outputs stay out of the repository
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns(*OUTPUTS))
    env, info = install_and_list(copy, tmp_path, "example")
    assert (info["status"], info["api"], info["version"]) == ("loaded", ">=2.1,<3", "0.1.0")

    # its tests: components on hand-made cases, then configs/example.yaml trained to > 80 % (chance ~33 %)
    tests = run([bin_path("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(copy / "tests")], env, copy)
    assert tests.returncode == 0 and "9 passed" in tests.stdout, tests.stdout[-3000:] + tests.stderr[-3000:]
