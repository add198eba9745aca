"""The runner's checkpoints: saved atomically under `WORK_DIR/checkpoints/step_N` (sharded
weights gathered under FSDP/DeepSpeed), pruned to `train.keep_last` (the best one kept),
resolved by name (`auto`/`last`/`best`/a folder; a name picks only the work dir's own
run's checkpoints) and resumed exactly (optimizer, scheduler, data order, random state).
The files themselves: `checkpoint`; which run a work dir holds: `workdir`.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import ConfigError, UserError
from . import checkpoint as ckpt
from .consolidate import is_sharded, trainable_state_for_save
from .state import RunnerState
from .files import check_output_dir, replace_path, write_text_atomic
from .pretrained import is_pretrained_dir, load_pretrained_weights
from .workdir import check_same_run, continue_run, start_fresh

log = logging.getLogger("videollm")


class CheckpointMixin(RunnerState):
    """Checkpoint methods of [`Runner`][videollm_core.engine.runner.Runner] (which sets `work_dir`,
    `accelerator`, `model`, `pipeline`, `settings`, `step`, `max_steps`, `best`, `cfg`,
    `run_id`, `outputs`)."""

    @property
    def ckpt_root(self) -> Path:
        return self.work_dir / "checkpoints"

    def _write_config(self) -> None:
        from ..config import Config

        write_text_atomic(self.work_dir / "config.yaml", Config(self.cfg).to_yaml(), "resolved config")

    def _claim_work_dir(self, *, fresh: bool, overwrite: bool) -> None:
        """Make the work dir this run's (on the main process; an error is raised on every one):
        a fresh run checks it holds no other run's checkpoints (or clears them with `overwrite`),
        a resumed one keeps its checkpoint's run id; then the resolved config is written."""
        def claim() -> str:
            check_output_dir(self.work_dir, "work dir")
            run_id = start_fresh(self.work_dir, overwrite=overwrite) if fresh else continue_run(self.work_dir, self.run_id)
            self._write_config()
            ckpt.remove_partial(self.ckpt_root)
            return run_id

        self.run_id = self._on_main(claim)

    def _save_checkpoint(self) -> Path:
        """Write `checkpoints/step_N` atomically (temporary directory, then rename)."""
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
                                                               "num_processes": acc.num_processes, "run_id": self.run_id})
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
        """`"auto"`/`"last"` (newest), `"best"` (else newest) or a directory.

        Raises:
            ForeignCheckpoint: a name picked a checkpoint of another run than the work dir's.
        """
        if which in ("auto", "last", "best"):
            path = (ckpt.best_checkpoint(self.ckpt_root) if which == "best" else None) or ckpt.latest_checkpoint(self.ckpt_root)
            if path is not None:
                check_same_run(path, self.work_dir, str(which))
            return path
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
        self.step, self.best, self.run_id = int(state["step"]), state.get("best"), state.get("run_id")
        acc.step = self.step * int(self.settings.grad_accum)
        log.info("resumed from %s (step %d)", path, self.step)
        return self.step

    def _record_training_outputs(self) -> None:
        """Fill `outputs` when training ends: the plots folder, the best checkpoint (else the last)."""
        out = self.outputs
        out.plots = self.work_dir / "plots" if (self.work_dir / "plots").is_dir() else None
        if self.best is not None and (self.ckpt_root / ckpt.step_dir_name(self.best["step"])).is_dir():
            out.checkpoint, out.checkpoint_kind = self.ckpt_root / ckpt.step_dir_name(self.best["step"]), "best"
            out.checkpoint_note = f"step {self.best['step']}, {self.best['key']}={self.best['value']:.4g}"
        elif (self.ckpt_root / ckpt.step_dir_name(self.step)).is_dir():
            out.checkpoint, out.checkpoint_kind = self.ckpt_root / ckpt.step_dir_name(self.step), "last"
            out.checkpoint_note = f"step {self.step}"


__all__ = ["CheckpointMixin"]
