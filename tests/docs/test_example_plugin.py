"""examples/plugins/videollm-example-plugin: installs, loads, and passes its own tests (which train its YAML)."""
from __future__ import annotations

import shutil

import pytest

from videollm_docs_install import REPO, bin_path, install_and_list, run

PACKAGE = REPO / "examples" / "plugins" / "videollm-example-plugin"


@pytest.mark.subprocess
def test_example_plugin_installs_and_passes_its_tests(tmp_path):
    copy = tmp_path / "videollm-example-plugin"  # build outputs stay out of the repository
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "work_dirs"))
    env, info = install_and_list(copy, tmp_path, "example")
    assert (info["status"], info["api"], info["version"]) == ("loaded", ">=1.0,<2", "0.1.0")

    # its tests: components on hand-made cases, then configs/example.yaml trained to > 80 % (chance ~33 %)
    tests = run([bin_path("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(copy / "tests")], env, copy)
    assert tests.returncode == 0 and "9 passed" in tests.stdout, tests.stdout[-3000:] + tests.stderr[-3000:]
