"""`ruff check` passes on the repository with the rules of `[tool.ruff]` in pyproject.toml
(pyflakes and pycodestyle's errors): part of the README's test command, so CI runs it."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_check_passes():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.fail("ruff is not installed: pip install -e '.[test]'", pytrace=False)
    done = subprocess.run([ruff, "check", "--no-cache", "videollm_core", "plugins", "tests", "bench", "examples", "docs"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
