"""Where the real annotation files live, and the one marker for tests that read them.

The files (EPIC-KITCHENS-100, QVHighlights, ActivityNet Captions, Breakfast, THUMOS14,
Charades-STA, Ego4D label maps) are the project's ``shared/data`` folder, under research
licences: read by tests, never packaged. The suite looks for them in ``$VIDEOLLM_SHARED_DATA``
or in ``shared/data`` beside the repository (as CI lays them out).

A test that reads them says which with :func:`needs_shared_data`; without those files it is
skipped with one reason naming the missing files, where to put them and the variable
(this module is also the pytest plugin that does it, loaded by ``tests/conftest.py``). ``VIDEOLLM_REQUIRE_SHARED_DATA=1`` (set by ``.ci/run``) turns that
skip into a failure, so a run that has the files can never go quietly green.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VIDEOLLM_SHARED_DATA") or REPO.parent / "shared" / "data")
#: the environment variable that makes a missing real-data file a failure instead of a skip.
REQUIRE_ENV = "VIDEOLLM_REQUIRE_SHARED_DATA"


def needs_shared_data(*relative: str) -> pytest.MarkDecorator:
    """Mark a test (or, as ``pytestmark``, a module) as reading these files under :data:`SHARED_DATA`."""
    if not relative:
        raise ValueError("needs_shared_data names at least one file, relative to shared/data")
    return pytest.mark.shared_data(*relative)


def missing_shared_data(relative: tuple[str, ...]) -> str | None:
    """The skip reason when any of ``relative`` is missing under :data:`SHARED_DATA`, else None."""
    missing = [p for p in relative if not (SHARED_DATA / p).exists()]
    if not missing:
        return None
    return (f"needs the real annotation files {', '.join(missing)} under {SHARED_DATA}: put the project's "
            f"shared/data folder beside the repository, or set VIDEOLLM_SHARED_DATA=/path/to/data "
            f"({REQUIRE_ENV}=1 makes this a failure, as in CI)")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``shared_data`` whose real files are missing is skipped with the reason
    (before its fixtures read them), or fails when ``$VIDEOLLM_REQUIRE_SHARED_DATA`` is 1."""
    for mark in item.iter_markers("shared_data"):
        reason = missing_shared_data(tuple(mark.args))
        if reason is None:
            continue
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
