"""The demo-data cache: generate a task's demo files once, atomically, and reuse them.

A task's generator writes the benchmark's real layout (feature `.npy` files plus
official annotation files) into a directory. `ensure_demo_data` keys that
directory by task, generator version and parameters, writes it into a temporary
sibling and renames it into place, so concurrent runs (two test workers, two
accelerate ranks) never see a half-written tree.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from videollm_core.paths import path_error

ENV_CACHE = "VIDEOLLM_CACHE"


def demo_cache_root() -> Path:
    """`$VIDEOLLM_CACHE/demo`, else `~/.cache/videollm/demo`."""
    base = os.environ.get(ENV_CACHE) or os.path.join(os.path.expanduser("~"), ".cache", "videollm")
    return Path(base) / "demo"


def _source_digest(generator: Callable[[Path], None]) -> str:
    """Hash of the source file that defines `generator`: editing the generator makes a new
    cache entry, so stale demo data is never read back (`version` stays for clarity)."""
    func: Any = generator
    while isinstance(func, functools.partial):
        func = func.func
    try:
        path = inspect.getsourcefile(inspect.unwrap(func))
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16] if path else ""
    except (TypeError, OSError):
        return ""


def ensure_demo_data(
    task: str,
    generator: Callable[[Path], None],
    params: dict[str, Any],
    *,
    version: int = 1,
    root: str | os.PathLike | None = None,
) -> Path:
    """Return a directory holding `task`'s demo data for `params`, generating it once.

    Args:
        task: task name, e.g. `"oad"` (first part of the directory name).
        generator: `generator(out_dir)` writes every file into `out_dir`; it must be
            deterministic in `params` (seed included).
        params: everything that changes the files; hashed into the directory name
            together with the generator's source file.
        version: bump when the generator's output changes through code outside that file.
        root: cache root (default `demo_cache_root`).
    """
    key = json.dumps({"task": task, "version": version, "params": params, "source": _source_digest(generator)},
                     sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    base = Path(root) if root is not None else demo_cache_root()
    target = base / f"{task}-{digest}"
    if (target / ".complete").exists():
        return target
    try:
        return _generate(generator, key, base, target, task)
    except OSError as e:  # full disk, read-only or foreign cache folder: name it and the way out
        raise path_error(e, base, f"write the {task} demo data", also=f"or point ${ENV_CACHE} at a writable folder") from e


def _generate(generator: Callable[[Path], None], key: str, base: Path, target: Path, task: str) -> Path:
    """Write the data into a temporary sibling of `target` and rename it into place."""
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{task}-", dir=base))
    try:
        generator(tmp)
        (tmp / "demo_params.json").write_text(key + "\n", encoding="utf-8")
        (tmp / ".complete").write_text("", encoding="utf-8")
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first: use its copy
            if not (target / ".complete").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
