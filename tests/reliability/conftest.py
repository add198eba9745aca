"""Reliability fixtures: the helper modules on ``sys.path``, no hub access, a private demo cache,
and the process-wide plugin state restored after tests that drive the CLI in-process."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

try:  # the fuzzer's caches (hypothesis's unicode tables) go to the temp folder, never into the checkout
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "videollm-hypothesis"))
except ImportError:  # without the test extra, test_fuzz.py fails on its own import and says why
    pass


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory) -> Path:
    """One demo-data cache for the session (``$VIDEOLLM_CACHE``), never the user's."""
    return tmp_path_factory.mktemp("videollm_cache")


@pytest.fixture(autouse=True)
def offline(monkeypatch, demo_cache):
    """No model hub; demo data in the session's cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("VIDEOLLM_CACHE", str(demo_cache))


@pytest.fixture
def isolated_cli(monkeypatch):
    """The CLI reconfigures the process-wide plugin manager: put it back afterwards."""
    from videollm_core.plugins import preserved_plugin_state

    monkeypatch.delenv("VIDEOLLM_STRICT_PLUGINS", raising=False)
    with preserved_plugin_state():
        yield
