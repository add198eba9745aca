"""Fixtures of the pipeline tests; the helpers themselves live in :mod:`llm_zoo`."""
from __future__ import annotations

import pytest

from llm_zoo import FAMILIES, register_test_head


@pytest.fixture(autouse=True)
def unit_classifier_test_head():
    """The test head is registered for every pipeline test (the suite-wide fixture restores the
    registries after each test, so it leaves no trace outside these tests)."""
    register_test_head()


@pytest.fixture(params=list(FAMILIES))
def family(request):
    return request.param
