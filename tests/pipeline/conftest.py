"""Fixtures of the pipeline tests; the helpers themselves live in :mod:`llm_zoo`."""
from __future__ import annotations

import pytest

from llm_zoo import FAMILIES


@pytest.fixture(params=list(FAMILIES))
def family(request):
    return request.param
