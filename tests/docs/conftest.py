"""Documentation tests: the docs hook module as a fixture; install helpers importable."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def hooks():
    """``docs/hooks.py`` imported as a module (it is not a package)."""
    spec = importlib.util.spec_from_file_location("videollm_docs_hooks", REPO / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


