"""`mkdocs build --strict` passes and the built reference names every registered component."""
from __future__ import annotations

import subprocess
import sys

import pytest

from videollm_core.plugins import PluginManager
from videollm_core.registry import ROLES, Registries

from videollm_docs_install import REPO


@pytest.mark.subprocess
def test_mkdocs_build_strict(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)], cwd=str(REPO),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    registries = Registries()
    PluginManager(registries, autoload=False).load()
    reference = (site / "reference" / "components" / "index.html").read_text(encoding="utf-8")
    for role in ROLES:
        for name in registries[role].names():
            assert f'id="{name.lower()}"' in reference, f"{role} {name} missing from the built reference"
    tasks = (site / "tasks" / "index.html").read_text(encoding="utf-8")
    assert "videollm:tasks" not in tasks and "OnlineActionDetectionHead" in tasks
    for page in ("quickstart", "concepts", "architecture", "configuration", "writing-plugins", "paper", "troubleshooting"):
        assert (site / page / "index.html").is_file()
