"""Issue 16, part 4: a fuzzer for configs, options and paths (hypothesis, derandomized).

Whatever the input, ``videollm-run`` (in-process, through the reliability harness) must:
exit 0 or 2; on 2 print ``error: ...`` (a message, never a traceback); and write nothing
outside the run's work dir (a dry run writes nothing at all). Demo data may be written into
``$VIDEOLLM_CACHE``, which the reliability fixtures point at a session folder.

The examples are bounded (``max_examples``) and derandomized, so CI runs the same cases
every time in well under a minute; cases it found are kept below as plain regression tests.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fuzz_strategies import cfg_options, example_mutations, fuzz, example_sources, hostile_paths, yaml_documents
from harness import Outcome, WouldTrain, run_argv
from mutations import ROOT

SOURCES = example_sources()


def _tree(folder: Path) -> set[str]:
    out = set()
    for root, dirs, files in os.walk(folder):
        out.update(os.path.relpath(os.path.join(root, n), folder) for n in dirs + files)
    return out


@contextlib.contextmanager
def sandbox():
    """A fresh current directory holding only ``afile`` (a file that paths may point into)."""
    with tempfile.TemporaryDirectory(prefix="videollm-fuzz-") as d:
        folder = Path(d)
        (folder / "afile").write_text("not a folder\n")
        with contextlib.chdir(folder):
            yield folder


def run(folder: Path, args: list[str], work_dir: str | None = None) -> Outcome:
    """Run ``args`` and check the property; ``work_dir``: where a (non-dry) run may write."""
    before = _tree(folder)
    try:
        outcome = run_argv(args)
    except WouldTrain:  # every check passed and training would start: as good as exit 0
        outcome = Outcome(0, "", "")
    text = outcome.out + outcome.err
    assert outcome.code in (0, 2), f"exit {outcome.code} for {args!r}\n{text[-3000:]}"
    assert "Traceback" not in text, f"{args!r}\n{text[-3000:]}"
    if outcome.code == 2:
        message = outcome.err.split("error: ", 1)[-1] if "error: " in outcome.err else ""
        assert message.strip(), f"{args!r}: no message: {outcome.err!r}"  # ours: "error: ...", argparse's: "usage: ... error: ..."
    new = _tree(folder) - before
    if work_dir is not None and "\x00" not in work_dir:  # (a NUL byte: no file system holds that work dir)
        inside = os.path.relpath(os.path.realpath(work_dir), os.path.realpath(folder))
        new = {p for p in new if not (p == inside or p.startswith(inside + os.sep) or inside.startswith(p + os.sep))}
    assert not new, f"{args!r} wrote outside its work dir: {sorted(new)[:10]}"
    assert (folder / "afile").read_text() == "not a folder\n"
    return outcome


def _config(folder: Path, text: str) -> str:
    path = folder / "cfg.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@fuzz(50)
@given(doc=yaml_documents())
def test_random_yaml_documents(doc, isolated_cli):
    with sandbox() as folder:
        run(folder, [_config(folder, doc), "--dry-run"])


@fuzz(30)
@given(case=example_mutations(SOURCES))
def test_mutated_examples(case, isolated_cli):
    name, text = case
    with sandbox() as folder:
        run(folder, [_config(folder, text), "--dry-run"])


@fuzz(40)
@given(name=st.sampled_from(sorted(SOURCES)), options=cfg_options)
def test_random_cfg_options(name, options, isolated_cli):
    with sandbox() as folder:
        config = _config(folder, yaml.safe_dump(SOURCES[name], sort_keys=False))
        run(folder, [config, "--dry-run", "--cfg-options", *options])


@fuzz(40)
@given(data=st.data(), use=st.sampled_from(["work_dir", "config", "annotation_file", "features_dir", "base"]))
def test_random_paths_dry_run(data, use, isolated_cli):
    with sandbox() as folder:
        path = data.draw(hostile_paths(folder))
        config = _config(folder, (ROOT / "examples" / "moment_query.yaml").read_text(encoding="utf-8"))
        args = {"work_dir": [config, "--work-dir", path], "config": [path],
                "annotation_file": [config, "--cfg-options", f"data.val.annotation_file={path}"],
                "features_dir": [config, "--cfg-options", f"data.train.features_dir={path}"],
                "base": [_config(folder, f"_base_: {yaml.safe_dump(path).splitlines()[0]}\n")]}[use]
        run(folder, [*args, "--dry-run"])


@fuzz(12)
@given(data=st.data())
def test_random_work_dirs_of_a_real_run(data, isolated_cli):
    """Without ``--dry-run`` the work dir is created: only there (training itself is refused by the harness)."""
    with sandbox() as folder:
        path = data.draw(hostile_paths(folder))
        config = _config(folder, (ROOT / "examples" / "oad.yaml").read_text(encoding="utf-8"))
        run(folder, [config, "--work-dir", path, "--cfg-options", "data.train.demo.num_videos=4", "data.val.demo.num_videos=4"],
            work_dir=path or "work_dirs/oad")  # (an empty --work-dir means the config's own)


# -- what the fuzzer found, kept as plain regression tests ---------------------------------
@pytest.mark.parametrize("use", ["work_dir", "config", "base", "annotation_file"])
def test_nul_byte_in_a_path_exits_2(use, isolated_cli):
    """Found by the fuzzer: ``open``/``stat`` refuse a NUL byte with a bare ``ValueError`` (a traceback)."""
    with sandbox() as folder:
        config = _config(folder, (ROOT / "examples" / "moment_query.yaml").read_text(encoding="utf-8"))
        bad = str(folder / "a\x00b")
        args = {"work_dir": [config, "--work-dir", bad], "config": [bad],
                "base": [_config(folder, '_base_: "a\\0b.yaml"\n')],
                "annotation_file": [config, "--cfg-options", f"data.val.annotation_file={bad}"]}[use]
        outcome = run(folder, [*args, "--dry-run"])
        assert outcome.code == 2 and "NUL byte" in outcome.err, outcome.err


def test_argparse_usage_errors_count_as_exit_2(isolated_cli):
    """Found by the fuzzer: an option value that looks like a flag is argparse's error (exit 2, usage)."""
    with sandbox() as folder:
        config = _config(folder, (ROOT / "examples" / "oad.yaml").read_text(encoding="utf-8"))
        outcome = run(folder, [config, "--dry-run", "--cfg-options", "-x"])
        assert outcome.code == 2 and "error: argument --cfg-options" in outcome.err, outcome.err
