"""The runner's checkpoints: saved atomically under ``WORK_DIR/checkpoints/step_N`` (sharded
weights gathered under FSDP/DeepSpeed), pruned to ``train.keep_last`` (the best one kept),
resolved by name (``auto``/``last``/``best``/a folder) and resumed exactly (optimizer,
scheduler, data order, random state). The files themselves: :mod:`.checkpoint`.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import ConfigError, UserError
from . import checkpoint as ckpt
from .consolidate import is_sharded, trainable_state_for_save
from .files import replace_path, write_text_atomic
from .pretrained import is_pretrained_dir, load_pretrained_weights

log = logging.getLogger("videollm")


class CheckpointMixin:
    """Checkpoint methods of :class:`~videollm_core.engine.runner.Runner` (which sets ``work_dir``,
    ``accelerator``, ``model``, ``pipeline``, ``settings``, ``step``, ``max_steps``, ``best``, ``cfg``)."""

    @property
    def ckpt_root(self) -> Path:
        return self.work_dir / "checkpoints"

    def _write_config(self) -> None:
        from ..config import Config

        write_text_atomic(self.work_dir / "config.yaml", Config(self.cfg).to_yaml(), "resolved config")

    def _save_checkpoint(self) -> Path:
        """Write ``checkpoints/step_N`` atomically (temporary directory, then rename)."""
        acc = self.accelerator
        name = ckpt.step_dir_name(self.step)
        final, tmp = self.ckpt_root / name, self.ckpt_root / f".tmp-{name}"
        try:  # a full disk or a lost permission: the partial copy goes, the previous checkpoints stay
            if acc.is_main_process:
                ckpt.remove_partial(self.ckpt_root)
                tmp.mkdir(parents=True)
            acc.wait_for_everyone()
            acc.save_state(str(tmp))
            ckpt.save_rng(tmp / f"rng_state_{acc.process_index}.pt")
            weights = trainable_state_for_save(acc, self.model, self.pipeline)  # gathers FSDP/ZeRO shards: every process
            if acc.is_main_process:
                ckpt.save_weights(weights, tmp / ckpt.WEIGHTS_FILE)
                if not is_sharded(acc):  # sharded adapters: `videollm export` writes them in peft's format
                    ckpt.save_peft_adapters(self.pipeline, tmp / "adapter")
                ckpt.write_json_atomic(tmp / ckpt.STATE_FILE, {"step": self.step, "max_steps": self.max_steps, "best": self.best,
                                                               "num_processes": acc.num_processes})
            acc.wait_for_everyone()
            if acc.is_main_process:
                replace_path(tmp, final)  # the same step saved before (e.g. a re-run) is replaced
        except (OSError, UserError) as e:
            raise ckpt.save_failed(e, final, self.ckpt_root) from e
        if acc.is_main_process:
            if self.best is not None and self.best["step"] == self.step:
                ckpt.write_json_atomic(self.ckpt_root / ckpt.BEST_FILE, self.best)
            keep = {self.best["step"]} if self.best is not None else set()
            ckpt.prune(self.ckpt_root, int(self.settings.keep_last), keep)
        acc.wait_for_everyone()
        return final

    def resolve_checkpoint(self, which: str | os.PathLike) -> Path | None:
        """``"auto"``/``"last"`` (newest), ``"best"`` (else newest) or a directory."""
        if which in ("auto", "last"):
            return ckpt.latest_checkpoint(self.ckpt_root)
        if which == "best":
            return ckpt.best_checkpoint(self.ckpt_root) or ckpt.latest_checkpoint(self.ckpt_root)
        path = Path(which)
        if not (path / ckpt.STATE_FILE).is_file() and not is_pretrained_dir(path):
            raise ConfigError(f"not a complete checkpoint directory nor an exported model folder: {path}", where=f"checkpoint {which}",
                              hint=f"use best, last, a step_* directory under {self.ckpt_root} or a `videollm export` folder")
        return path

    def load_weights(self, path: str | os.PathLike) -> None:
        """Load a checkpoint's trainable weights (safetensors), or an exported folder's weights, into the pipeline."""
        if is_pretrained_dir(path) and not (Path(path) / ckpt.STATE_FILE).is_file():
            load_pretrained_weights(self.pipeline, path)
            return
        self.pipeline.load_trainable_state_dict(ckpt.load_weights(Path(path) / ckpt.WEIGHTS_FILE))

    def _resume(self, which: str) -> int | None:
        path = self.resolve_checkpoint(which)
        if path is None:
            log.warning("--resume %s: no checkpoint in %s, starting from scratch", which, self.ckpt_root)
            return None
        if not (path / ckpt.STATE_FILE).is_file():
            raise ConfigError("an exported model folder holds no optimizer state to resume training from", where=f"--resume {which}",
                              hint="use it with --eval-only/--predict --checkpoint, or resume from a step_* folder")
        acc = self.accelerator
        ckpt.verify_state_files(path)  # a damaged or foreign file is a DataError naming it
        acc.load_state(str(path))
        self.load_weights(path)
        rng = path / f"rng_state_{acc.process_index}.pt"
        ckpt.load_rng(rng if rng.is_file() else path / "rng_state_0.pt")
        state = ckpt.read_json(path / ckpt.STATE_FILE)
        self.step, self.best = int(state["step"]), state.get("best")
        acc.step = self.step * int(self.settings.grad_accum)
        log.info("resumed from %s (step %d)", path, self.step)
        return self.step


__all__ = ["CheckpointMixin"]
