"""One run per work dir: the run's id, the guard against mixing runs, `--overwrite`.

A training run claims its work dir before it writes anything into it:

- a fresh run (no `--resume`) into a folder that holds complete checkpoints of an earlier
  run stops with `WorkDirInUse`, naming the folder and the two ways on: `--resume`
  continues the earlier run, `--overwrite` deletes what it wrote (`clear_run_outputs`)
  and starts over (`start_fresh`);
- the run gets an id (`new_run_id`), written to `run.json` in the work dir, into every
  checkpoint's `state.json` and into `summary.json`; a resumed run keeps the id of the
  checkpoint it resumes (`continue_run`).

`auto`/`last`/`best` pick only a checkpoint of the work dir's own run
(`check_same_run`): one whose `run_id` differs from `run.json`'s (two runs started
into one folder at the same time, checkpoints copied in) is a `ForeignCheckpoint`
error, never a silent pick. A checkpoint folder named by its path is the user's explicit
choice and is not checked. Work dirs and checkpoints written before run ids existed carry
none and are accepted as they are.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from ..errors import ConfigError
from . import checkpoint as ckpt

log = logging.getLogger("videollm")

RUN_FILE = "run.json"
#: folders a run writes whole into its work dir: `--overwrite` removes them (`checkpoints/`: see below).
RUN_FOLDERS = ("predictions", "plots", "tensorboard")
#: files a run writes into its work dir: `--overwrite` removes them (`eval_*.json` too); `config.yaml`
#: is rewritten by the new run, and nothing else is touched.
RUN_FILES = ("metrics.jsonl", "summary.json", RUN_FILE)
_OVERWRITE_NOTE = "its checkpoints, predictions, plots, TensorBoard events and metrics log; other files stay"


class WorkDirInUse(ConfigError):
    """A training run would write into a work dir that holds another run's checkpoints."""


class ForeignCheckpoint(ConfigError):
    """`last`/`best`/`auto` picked a checkpoint written by another run than the work dir's."""


def new_run_id() -> str:
    """A fresh run id: the start time and 6 random hex digits (`20250101-120000-1a2b3c`)."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + os.urandom(3).hex()


def _run_id_in(path: Path) -> str | None:
    """The `run_id` of a JSON file, or None (missing, unreadable, written before run ids)."""
    if not path.is_file():
        return None
    try:
        value = ckpt.read_json(path).get("run_id")
    except (OSError, ValueError, AttributeError) as e:
        log.warning("%s: unreadable (%s); its run is unknown", path, e)
        return None
    return str(value) if value else None


def run_id_of(work_dir: str | os.PathLike) -> str | None:
    """The id of the run that owns `work_dir` (its `run.json`), or None."""
    return _run_id_in(Path(work_dir) / RUN_FILE)


def checkpoint_run_id(path: str | os.PathLike) -> str | None:
    """The id of the run that wrote checkpoint `path` (its `state.json`), or None."""
    return _run_id_in(Path(path) / ckpt.STATE_FILE)


def _write_run_file(work_dir: str | os.PathLike, run_id: str) -> None:
    ckpt.write_json_atomic(Path(work_dir) / RUN_FILE, {"run_id": run_id, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def check_fresh(work_dir: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Check that a new run may start in `work_dir`: it holds no complete checkpoint, or `overwrite`.

    Raises:
        WorkDirInUse: naming the folder, the earlier run's last checkpoint and the fixes.
    """
    held = ckpt.list_checkpoints(Path(work_dir) / "checkpoints")
    if held and not overwrite:
        raise WorkDirInUse(
            f"the work dir holds {len(held)} checkpoint(s) of an earlier run (the last: {held[-1][1].name});"
            " a new run would mix with them",
            where=str(work_dir),
            hint=f"continue that run with --resume, start over with --overwrite (deletes {_OVERWRITE_NOTE}),"
                 " or pass another --work-dir")


def clear_run_outputs(work_dir: str | os.PathLike) -> list[Path]:
    """Delete what an earlier run wrote into `work_dir`; return what was removed.

    Removed: the `step_*` and `.tmp-*` folders and `best.json` of `checkpoints/` (the
    folder itself when nothing else is left in it), the folders `RUN_FOLDERS`, the files
    `RUN_FILES` and `eval_*.json`. Anything else (a config, notes, an export) stays.
    """
    work_dir = Path(work_dir)
    root = work_dir / "checkpoints"
    removed = ckpt.remove_partial(root)
    for _, path in ckpt.list_checkpoints(root):
        shutil.rmtree(path)
        removed.append(path)
    targets = [root / ckpt.BEST_FILE, *(work_dir / name for name in RUN_FOLDERS + RUN_FILES), *work_dir.glob("eval_*.json")]
    for path in targets:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.is_file() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(path)
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()
    return removed


def start_fresh(work_dir: str | os.PathLike, *, overwrite: bool = False) -> str:
    """Claim `work_dir` for a new run (`check_fresh`; with `overwrite`, the earlier
    run's outputs are deleted first); write `run.json` and return the new run's id."""
    check_fresh(work_dir, overwrite=overwrite)
    if overwrite:
        removed = clear_run_outputs(work_dir)
        if removed:
            log.warning("--overwrite: removed the earlier run's outputs in %s (%s)", work_dir,
                        ", ".join(sorted({p.name for p in removed})))
    run_id = new_run_id()
    _write_run_file(work_dir, run_id)
    return run_id


def continue_run(work_dir: str | os.PathLike, run_id: str | None) -> str:
    """Claim `work_dir` for a resumed run; `run_id` is the resumed checkpoint's (None: written
    before run ids; the work dir's own id, or a new one, is kept). Returns the run's id.

    Raises:
        WorkDirInUse: the work dir holds checkpoints of another run than the resumed one.
    """
    owner = run_id_of(work_dir)
    if run_id and owner and owner != run_id and ckpt.list_checkpoints(Path(work_dir) / "checkpoints"):
        raise WorkDirInUse(f"the work dir holds checkpoints of another run ({owner}) than the resumed checkpoint's ({run_id})",
                           where=str(work_dir),
                           hint="resume into the checkpoint's own work dir, or pass another --work-dir")
    run_id = run_id or owner or new_run_id()
    if run_id != owner:
        _write_run_file(work_dir, run_id)
    return run_id


def check_same_run(path: str | os.PathLike, work_dir: str | os.PathLike, which: str) -> None:
    """Check that checkpoint `path`, picked by the name `which` (`auto`/`last`/`best`),
    belongs to the run that owns `work_dir`.

    Raises:
        ForeignCheckpoint: both ids are known and differ.
    """
    owner, theirs = run_id_of(work_dir), checkpoint_run_id(path)
    if owner and theirs and owner != theirs:
        raise ForeignCheckpoint(
            f"'{which}' picked {Path(path).name}, a checkpoint of another run ({theirs}) than the work dir's ({owner}, {RUN_FILE})",
            where=str(path),
            hint="the work dir mixes runs: name a checkpoint folder to use it on purpose (--checkpoint PATH, --resume PATH),"
                 " or train again with --overwrite")


__all__ = ["RUN_FILE", "RUN_FOLDERS", "RUN_FILES", "WorkDirInUse", "ForeignCheckpoint", "new_run_id", "run_id_of",
           "checkpoint_run_id", "check_fresh", "clear_run_outputs", "start_fresh", "continue_run", "check_same_run"]
