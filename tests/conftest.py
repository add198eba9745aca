"""Suite-wide settings. The root of ``tests/`` is on ``sys.path`` (pytest's prepend mode),
so test modules can ``from shared_paths import SHARED_DATA, needs_shared_data``."""
from __future__ import annotations

import os

import pytest
import torch

pytest_plugins = ["shared_paths", "browser", "pytester"]  # the shared_data marker's skip-or-fail hook, the chrome fixture; pytester tests it


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models on a 2-core machine: one intra-op thread is faster than two (and far
    faster when the cores are shared). ``VIDEOLLM_TEST_THREADS=N`` runs the suite with N
    threads instead: trained models' numbers change with it (the order of float sums), so
    no test may assert them exactly, only margins over controls."""
    before = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("VIDEOLLM_TEST_THREADS") or 1))
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def hermetic_plugins():
    """Every test gets the process-wide plugin manager and registries back as they were: a test
    that runs the CLI (which reconfigures plugins) cannot drop what another test registered."""
    from videollm_core.plugins import preserved_plugin_state

    with preserved_plugin_state():
        yield
