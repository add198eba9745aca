"""Checkpoints of the runner: atomic, trainable weights only, safe to load.

Layout of `WORK_DIR/checkpoints/step_00000100/`:

- `trainable.safetensors`: the pipeline's trainable weights only (the frozen LLM is
  not copied; it is rebuilt from the config);
- `adapter/`: PEFT adapters written by `save_pretrained` (for use outside videollm);
- `optimizer.bin`, `scheduler.bin`: written by `accelerator.save_state`;
- `rng_state_{rank}.pt`: python / numpy / torch (/ CUDA) generator states of each
  process, in a form `torch.load(weights_only=True)` reads (accelerate's own
  `random_states_*.pkl` holds a numpy array, which a weights-only load refuses, and
  `load_state` then silently keeps the current generators);
- `state.json`: step, best metric and the runner's bookkeeping.

A checkpoint is written into `checkpoints/.tmp-step_00000100` and renamed into place
once complete, so a `step_*` directory is always whole; a crash leaves at most a
`.tmp-*` directory, removed by the next run. A write that fails (full disk,
permission, read-only file system) removes the partial copy and becomes a
[`PathError`][videollm_core.errors.PathError] (`save_failed`); the earlier
checkpoints stay loadable. Nothing is loaded with pickle beyond
`torch.load(weights_only=True)`.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError, UserError
from ..paths import path_error
from .files import write_text_atomic

STEP_DIR = re.compile(r"^step_(\d{8})$")
WEIGHTS_FILE = "trainable.safetensors"
STATE_FILE = "state.json"
BEST_FILE = "best.json"


def step_dir_name(step: int) -> str:
    return f"step_{int(step):08d}"


def list_checkpoints(root: str | os.PathLike) -> list[tuple[int, Path]]:
    """Complete checkpoints under `root` as `[(step, path)]`, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        m = STEP_DIR.match(child.name)
        if m and child.is_dir() and (child / STATE_FILE).is_file():
            found.append((int(m.group(1)), child))
    return sorted(found)


def latest_checkpoint(root: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint, or None."""
    ckpts = list_checkpoints(root)
    return ckpts[-1][1] if ckpts else None


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON to `path` atomically (`videollm_core.paths.write_text_atomic`)."""
    write_text_atomic(path, json.dumps(obj, indent=1, sort_keys=True), f"file {Path(path).name}")


def save_failed(error: Exception, final: str | os.PathLike, root: str | os.PathLike) -> UserError:
    """The error to raise when writing checkpoint `final` failed: the partial copy under
    `root` is removed and the message says that the previous checkpoints are intact."""
    remove_partial(root)
    err = error if isinstance(error, UserError) else path_error(error, final, "write the checkpoint")  # type: ignore[arg-type]
    previous = latest_checkpoint(root)
    kept = f"the previous checkpoint {previous.name} is intact: --resume auto continues from it" if previous else "no earlier checkpoint"
    err.hint = f"{err.hint}; {kept}" if err.hint else kept
    err.args = (err.render(),)
    return err


def best_checkpoint(root: str | os.PathLike) -> Path | None:
    """The checkpoint named by `best.json` when it still exists."""
    path = Path(root) / BEST_FILE
    if not path.is_file():
        return None
    ckpt = Path(root) / step_dir_name(read_json(path)["step"])
    return ckpt if (ckpt / STATE_FILE).is_file() else None


def remove_partial(root: str | os.PathLike) -> list[Path]:
    """Delete `.tmp-*` leftovers of interrupted saves; return what was removed."""
    root = Path(root)
    removed = []
    if root.is_dir():
        for child in root.iterdir():
            if child.name.startswith(".tmp-") and child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
                removed.append(child)
    return removed


def prune(root: str | os.PathLike, keep_last: int, keep: set[int] | frozenset[int] = frozenset()) -> list[int]:
    """Delete all but the newest `keep_last` checkpoints and the steps in `keep`."""
    ckpts = list_checkpoints(root)
    newest = {s for s, _ in ckpts[-keep_last:]} if keep_last > 0 else set()
    removed = []
    for step, path in ckpts:
        if step not in newest and step not in keep:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(step)
    return removed


# -- weights ---------------------------------------------------------------
def save_weights(state_dict: dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """`name -> tensor` into a safetensors file (tensors copied contiguous, on CPU)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}, str(path))


def load_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; a [`DataError`][videollm_core.errors.DataError] naming it when it is unreadable."""
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as e:  # truncated or not a safetensors file
        raise DataError(f"cannot read {Path(path).name}: {type(e).__name__}: {e}", where=str(path), hint=_CORRUPT_HINT) from e


_CORRUPT_HINT = "the checkpoint is damaged or was not written by videollm-core: resume from another one (--resume PATH) or delete it"


def verify_state_files(directory: str | os.PathLike) -> None:
    """Check that every pickled state file of a checkpoint loads with `weights_only=True`.

    Raises:
        DataError: naming the first file that is refused (a planted pickle payload is
            refused, never executed) or unreadable.
    """
    for path in sorted(Path(directory).glob("*.bin")) + sorted(Path(directory).glob("*.pt")):
        try:
            torch.load(str(path), weights_only=True, map_location="cpu")
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise DataError(f"refused to load {path.name} ({type(e).__name__}: {first})", where=str(path), hint=_CORRUPT_HINT) from e


def save_peft_adapters(model: torch.nn.Module, directory: str | os.PathLike) -> list[str]:
    """Write every PEFT model inside `model` with its own `save_pretrained`."""
    written = []
    for name, module in model.named_modules():
        if hasattr(module, "peft_config") and hasattr(module, "save_pretrained"):
            target = Path(directory) / (name.replace(".", "_") or "model")
            module.save_pretrained(str(target))
            written.append(str(target))
    return written


# -- random generators -------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """The process's generator states, as types `torch.load(weights_only=True)` accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` returned."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_rng(path: str | os.PathLike) -> None:
    torch.save(rng_state(), str(path))


def load_rng(path: str | os.PathLike) -> None:
    set_rng_state(torch.load(str(path), weights_only=True))


__all__ = [
    "STEP_DIR", "WEIGHTS_FILE", "STATE_FILE", "BEST_FILE", "step_dir_name", "list_checkpoints",
    "latest_checkpoint", "best_checkpoint", "read_json", "write_json_atomic", "save_failed", "remove_partial", "prune",
    "save_weights", "load_weights", "save_peft_adapters", "rng_state", "set_rng_state", "save_rng", "load_rng",
]
