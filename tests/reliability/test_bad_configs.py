"""Issue "Reliability" 1 and 5: every broken config exits 2, names its place, prints no traceback.

The set is generated from the shipped examples by :mod:`mutations` (seeded); the same
checks run in-process for all of them and through the ``videollm-run`` console script for a
few. Besides exit code and message, each case asserts that nothing a config smuggled in ran.
"""
from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from harness import argv, run_in_process, write_files
from mutations import CATEGORIES, ROOT, Mutation, mutations, sources

MUTATIONS = mutations()


def test_the_set_is_broad_and_deterministic():
    counts = Counter(m.category for m in MUTATIONS)
    assert len(MUTATIONS) >= 200 and set(counts) == set(CATEGORIES), counts
    assert min(counts.values()) >= 8, counts
    assert [m.id for m in mutations()] == [m.id for m in MUTATIONS]
    assert len({m.id for m in MUTATIONS}) == len(MUTATIONS)


@pytest.mark.parametrize("name", sorted(sources()))
def test_unmutated_sources_pass(name, tmp_path, isolated_cli):
    """The control: the same harness accepts the examples themselves, so each failure below is the mutation's."""
    import yaml

    outcome = run_in_process(Mutation(f"{name}/none", "none", {"cfg.yaml": yaml.safe_dump(sources()[name])}, ()), tmp_path)
    assert outcome.code == 0, outcome.err[-2000:]
    assert "total" in outcome.out


def _check(mutation: Mutation, code: int, out: str, err: str, folder: Path) -> None:
    assert code == 2, f"{mutation.id}: exit {code}\n{err[-2000:]}"
    assert "Traceback" not in err + out, f"{mutation.id}:\n{err[-3000:]}"
    assert err.startswith("error: "), err[-2000:]
    for place in mutation.expect:
        assert place in err, f"{mutation.id}: {place!r} not named in\n{err[-2000:]}"
    assert not (folder / "PWNED").exists() and not (ROOT / "PWNED").exists(), "a YAML tag ran code"


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_broken_config_exits_2_naming_the_place(mutation, tmp_path, isolated_cli):
    outcome = run_in_process(mutation, tmp_path)
    _check(mutation, outcome.code, outcome.out, outcome.err, tmp_path)


@pytest.mark.subprocess
def test_console_script_behaves_the_same(tmp_path, isolated_cli):
    """One case per category that fails in the kernel, run concurrently through the installed script."""
    picked: dict[str, Mutation] = {}
    for m in MUTATIONS:
        if m.category in ("invalid_yaml", "smuggled_code", "bad_size", "base_cycle") and not m.needs_run:
            picked.setdefault(m.category, m)
    script = Path(sys.executable).with_name("videollm-run")
    procs = []
    for i, m in enumerate(picked.values()):
        folder = tmp_path / str(i)
        config = write_files(m, folder)
        procs.append((m, folder, subprocess.Popen([str(script), *argv(m, config, folder / "work")], cwd=str(folder), text=True,
                                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
    for m, folder, proc in procs:
        out, err = proc.communicate(timeout=300)
        _check(m, proc.returncode, out, err, folder)
    assert len(procs) == 4
