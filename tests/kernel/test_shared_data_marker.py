"""The ``shared_data`` marker (tests/shared_paths.py): a test whose real annotation files are
missing is skipped with a reason naming them, the folder and the variable, before any fixture
reads them; ``VIDEOLLM_REQUIRE_SHARED_DATA=1`` (as in ``.ci/run``) makes it a failure."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]  # where shared_paths.py (the plugin) lives
TEST = '''
import pytest
from shared_paths import needs_shared_data

@pytest.fixture
def reads_the_file():
    raise AssertionError("the fixture ran although the file is missing")

@needs_shared_data("present.txt", "absent/file.json")
def test_needs_both(reads_the_file):
    pass

@needs_shared_data("present.txt")
def test_needs_the_present_one():
    pass
'''


@pytest.fixture
def data_dir(pytester, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "present.txt").write_text("x")
    monkeypatch.setenv("VIDEOLLM_SHARED_DATA", str(data))
    monkeypatch.delenv("VIDEOLLM_REQUIRE_SHARED_DATA", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    pytester.makepyfile(test_marker=TEST)
    pytester.makeini("[pytest]\nmarkers =\n    shared_data: real files\n")
    return data


def test_missing_files_skip_with_one_clear_reason(pytester, data_dir):
    result = pytester.runpytest_subprocess("-p", "shared_paths", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*needs the real annotation files absent/file.json under*VIDEOLLM_SHARED_DATA=*"])
    assert "present.txt," not in result.stdout.str()  # only what is missing is named


def test_required_shared_data_turns_the_skip_into_a_failure(pytester, data_dir, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_REQUIRE_SHARED_DATA", "1")
    result = pytester.runpytest_subprocess("-p", "shared_paths")
    result.assert_outcomes(passed=1, errors=1)  # failed in setup: pytest counts an error
    result.stdout.fnmatch_lines(["*absent/file.json*"])
    assert "the fixture ran" not in result.stdout.str()
