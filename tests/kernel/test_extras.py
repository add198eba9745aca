"""A command that needs an optional package exits 2 naming the extra, before the model or
backbone loads (``videollm_core/cli/extras.py``)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from videollm_core.cli.extras import EXTRAS, require_extra
from videollm_core.errors import PluginError

WITHOUT_AV = """
import sys
sys.modules["av"] = None  # as if PyAV were not installed
from videollm_core.cli.commands import main
code = main(sys.argv[1:])
print("LOADED transformers" if "transformers" in sys.modules else "NOT LOADED transformers")
sys.exit(code)
"""


@pytest.mark.subprocess
@pytest.mark.parametrize("argv", [
    ["extract", "--backbone", "any/backbone", "--videos", "{tmp}", "--out", "{tmp}/o", "--fps", "1"],
    ["predict", "{tmp}/no_model", "--videos", "{tmp}/clip.mp4", "--out", "{tmp}/p.json"],
    ["stream", "{tmp}/no_model", "{tmp}/clip.mp4"],
])
def test_video_commands_without_pyav_name_the_extra(tmp_path, argv):
    out = subprocess.run([sys.executable, "-c", WITHOUT_AV, *(a.format(tmp=tmp_path) for a in argv)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert "PyAV" in out.stderr and 'pip install "videollm-core[video]"' in out.stderr
    assert "Traceback" not in out.stderr
    assert "NOT LOADED transformers" in out.stdout  # nothing heavy was loaded first


def test_missing_extra_is_named_and_every_listed_extra_installs_its_package(monkeypatch):
    require_extra(next(m for m in EXTRAS if m != "lmdb" and _installed(m)), "x")  # installed: no error
    monkeypatch.setitem(sys.modules, "lmdb", None)
    with pytest.raises(PluginError, match=r"videollm-core\[features\]"):
        require_extra("lmdb", "LMDBFeatures")
    import tomllib
    from pathlib import Path

    extras = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for module, (dist, extra) in EXTRAS.items():
        package = "av" if module == "av" else dist.lower()
        assert any(dep.lower().startswith(package) for dep in extras[extra]), (module, extra)


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
