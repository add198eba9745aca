"""The typing contract (docs/writing-plugins.md, "Type checking"): mypy, at the strictness of
``[tool.mypy]`` in pyproject.toml, passes on ``videollm_core`` and on the ``src`` of a freshly
generated ``videollm new-plugin`` package, and agrees that the real Runner and VideoLLM satisfy
the protocols the hook specs are typed with."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from videollm_core.cli.scaffold import new_plugin

ROOT = Path(__file__).resolve().parents[2]

PROTOCOL_CHECK = '''
from videollm_core.engine.runner import Runner
from videollm_core.pipeline import VideoLLM
from videollm_core.protocols import PipelineProtocol, RunnerProtocol


def as_runner(runner: Runner) -> RunnerProtocol:
    return runner


def as_pipeline(pipeline: VideoLLM) -> PipelineProtocol:
    return pipeline
'''


def test_the_package_ships_its_py_typed_marker():
    assert (ROOT / "videollm_core" / "py.typed").is_file()
    assert '"videollm_core": ["py.typed"' in (ROOT / "setup.py").read_text(encoding="utf-8")  # its package_data


@pytest.mark.slow
def test_mypy_passes_on_the_package_and_a_generated_plugin(tmp_path):
    pytest.importorskip("mypy")  # the test extra installs it: never skipped there
    plugin = new_plugin("videollm-typed", tmp_path) / "src"
    check = tmp_path / "protocol_check.py"
    check.write_text(PROTOCOL_CHECK, encoding="utf-8")
    # cwd=ROOT: videollm_core is found from the checkout (mypy does not follow editable-install finders)
    done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                           "videollm_core", str(plugin), str(check)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    assert "Success: no issues found" in done.stdout
