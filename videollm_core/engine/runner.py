"""The accelerate-backed runner: train with periodic evaluation, evaluate, predict.

The loop is accelerate's canonical one: `prepare` (model, optimizer, scheduler),
`accumulate` (`train.grad_accum` micro-batches per optimizer step), `backward`,
clip only when gradients sync, step. One or many processes and machines come from
`accelerate launch` alone (DDP with `find_unused_parameters`, FSDP, DeepSpeed).

Work dir (`work_dir` argument, else `cfg["work_dir"]`, else `work_dirs/<config stem>`):

    config.yaml          the resolved config
    run.json             the run's id (one run per work dir: see videollm_core.engine.workdir)
    metrics.jsonl        one JSON object per logged step or evaluation
    summary.json         the last step, the best checkpoint, the run id, the interrupting signal
    tensorboard/         TensorBoard events
    checkpoints/         step_XXXXXXXX/ (see videollm_core.engine.checkpoint), best.json
    predictions/         TASK_SPLIT.json (official format; the metric's suffix)
    plots/               TASK_predictions.png (+ loss.png, metrics.png from the plots plugin)

Data order, task sampling and generator states are pure functions of the seed and the
step (`videollm_core.engine.sampling`), so `train(resume="auto")` after a kill ends with
the same metrics as an uninterrupted run. Evaluation and checkpoint I/O live in
`videollm_core.engine.evaluation` and `videollm_core.engine.checkpoint`.
"""
from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from typing import Any, Mapping

import torch

from . import checkpoint as ckpt
from ..errors import ConfigError, UserError
from .checkpointing import CheckpointMixin
from .evaluation import EvaluationMixin
from ..features import expected_feature_dim
from .logs import MetricsLog, RunOutputs, progress_bar
from .optim import build_optimizer, build_scheduler
from .files import resolve_work_dir
from ..plugins import REGISTRIES
from ..registry import Registries
from ..validation import RunConfig, validate_config
from .sampling import StepBatchSampler, consumed_batches, task_schedule

log = logging.getLogger("videollm.runner")


class TrainingDiverged(UserError):
    """The loss became NaN or Inf with `train.on_nan: stop`."""


class Runner(CheckpointMixin, EvaluationMixin):
    """Builds datasets, pipeline and accelerator from a validated config, and runs them.

    Args:
        cfg: a [`RunConfig`][videollm_core.sections.RunConfig] (what `validate_config` returns); a
            loaded config (a dict or [`Config`][videollm_core.config.Config]) or a YAML path is
            validated into one first (`ConfigErrors` names every problem).
        work_dir: overrides the config's `work_dir`.
        registries: where components are looked up.
        plugin_manager: whose hooks are called (default: the process-wide manager).

    Attributes for hooks: `config` (the `RunConfig`), `cfg` (the mapping it was read from),
    `step` (optimizer steps done), `max_steps`, `pipeline` (the unwrapped `VideoLLM`), `accelerator`, `work_dir`,
    `should_stop` (set it to end training after this step), `history` (the records
    of `metrics.jsonl`), `interrupted` (the signal number that stopped training),
    `run_id` (set when training starts), `outputs` (a `RunOutputs`:
    where the outputs went, for the command line's closing line).
    """

    def __init__(self, cfg: RunConfig | Mapping[str, Any] | str | os.PathLike, *, work_dir: str | os.PathLike | None = None,
                 registries: Registries = REGISTRIES, plugin_manager: Any = None):
        from accelerate import Accelerator, DistributedDataParallelKwargs
        from accelerate.utils import GradientAccumulationPlugin
        from accelerate.tracking import TensorBoardTracker
        from accelerate.utils import set_seed

        from ..pipeline import build_pipeline

        registries.ensure_loaded()
        self.config = config = validate_config(cfg, registries)
        self.cfg, self.registries = config.raw, registries
        if plugin_manager is None:
            from ..plugins import get_plugin_manager

            plugin_manager = get_plugin_manager()
        self.hooks = plugin_manager.hook
        self.work_dir = resolve_work_dir(self.cfg, work_dir)
        self.settings = s = config.train
        self.specs = config.tasks
        self.step, self.max_steps = 0, int(s.max_steps or 0)
        self.should_stop, self.interrupted = False, None
        self.run_id: str | None = None
        self.outputs = RunOutputs(self.work_dir)
        self.best: dict[str, Any] | None = None
        #: `(TASK/KEY, higher_is_better)` of the score that picks the best checkpoint: `train.primary_metric`,
        #: else the first evaluated task's `primary_key` (known after the first evaluation).
        self.primary_metric: tuple[str, bool] | None = config.primary_metric
        self._log: MetricsLog | None = None
        self._history: list[dict[str, Any]] = []
        self._datasets: dict[tuple[str, str], Any] = {}
        self._eval_loaders: dict[tuple[str, str], Any] = {}
        precision = s.mixed_precision
        if precision != "no" and not torch.cuda.is_available():
            log.warning("train.mixed_precision=%s needs CUDA; running in fp32 on CPU", precision)
            precision = "no"
        self._tensorboard = TensorBoardTracker("tensorboard", str(self.work_dir)) if "tensorboard" in s.log_with else None
        self.accelerator = Accelerator(
            log_with=[t for t in s.log_with if t != "tensorboard"] + ([self._tensorboard] if self._tensorboard else []) or None,
            project_dir=str(self.work_dir),
            mixed_precision=precision,
            gradient_accumulation_plugin=GradientAccumulationPlugin(num_steps=int(s.grad_accum), sync_with_dataloader=False),
            step_scheduler_with_optimizer=False,
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        )
        set_seed(config.seed)
        from ..head_args import resolve_head_args

        head_args = resolve_head_args(self.cfg, registries, dataset_for=self._first_dataset)
        from .class_tables import check_class_tables

        check_class_tables(self.specs, self.dataset)
        self.pipeline = build_pipeline(config, registries=registries, head_args=head_args, device=self.accelerator.device)
        self.model = self.pipeline  # replaced by the prepared (wrapped) model in train()
        self._trained = False

    # -- data ----------------------------------------------------------------
    @property
    def history(self) -> list[dict[str, Any]]:
        return self._log.history if self._log is not None else self._history

    def _data_where(self, spec, split: str) -> str:
        return f"{spec.path('data')}.{split}"

    def dataset(self, spec, split: str):
        """The task's dataset of `split` (built once), or None when the config has none."""
        key = (spec.name, split)
        if key not in self._datasets:
            dcfg = spec.data.get(split)
            if dcfg is None:
                return None
            ds = self.registries.datasets.build(
                dcfg, where=self._data_where(spec, split),
                default_args={"feature_dim": expected_feature_dim(self.cfg, self.registries, spec), "on_error": self.config.data.on_error})
            report = ds.skip_report()
            if report:
                log.warning("%s: data.on_error=skip dropped %d item(s):\n  %s", self._data_where(spec, split), len(report),
                            "\n  ".join(report[:20]) + (f"\n  ... and {len(report) - 20} more" if len(report) > 20 else ""))
            self._datasets[key] = ds
        return self._datasets[key]

    def _first_dataset(self, spec):
        for split in ("train", "val", "test"):
            ds = self.dataset(spec, split)
            if ds is not None:
                return ds
        raise ConfigError(f"task '{spec.name}' has no dataset", where=spec.path("data"), hint="add data.train / data.val / data.test")

    def _train_iterators(self) -> list:
        """One endless DataLoader iterator per task, positioned at `step`."""
        from torch.utils.data import DataLoader

        s, acc = self.settings, self.accelerator
        consumed = consumed_batches(self._schedule, self.step * int(s.grad_accum), len(self.specs))
        iters = []
        for i, spec in enumerate(self.specs):
            ds = self.dataset(spec, "train")
            if len(ds) == 0:
                raise ConfigError(f"task '{spec.name}': the training set is empty", where=self._data_where(spec, "train"))
            sampler = StepBatchSampler(len(ds), int(spec.batch_size or self.config.data.batch_size), seed=self.config.seed + 1009 * i, rank=acc.process_index,
                                       world_size=acc.num_processes, start=consumed[i])
            loader = DataLoader(ds, batch_sampler=sampler, collate_fn=ds.collate, num_workers=int(self.config.data.num_workers),
                                pin_memory=acc.device.type == "cuda", generator=torch.Generator().manual_seed(self.config.seed))
            iters.append(iter(loader))
        return iters

    # -- setup ---------------------------------------------------------------
    def _prepare_training(self) -> None:
        s, acc = self.settings, self.accelerator
        acc.gradient_accumulation_steps = int(s.grad_accum)  # accelerate's gradient state is process-wide
        if s.max_steps is None:
            if s.epochs is None:
                raise ConfigError("training length is not set", where="train", hint="set train.max_steps or train.epochs")
            ds = self.dataset(self.specs[0], "train")
            per_epoch = max(1, len(ds) // (int(self.specs[0].batch_size or self.config.data.batch_size) * acc.num_processes))
            self.max_steps = max(1, math.ceil(int(s.epochs) * per_epoch / int(s.grad_accum)))
        for spec in self.specs:
            if self.dataset(spec, "train") is None:
                raise ConfigError(f"task '{spec.name}' has no training data", where=self._data_where(spec, "train"))
        optimizer = build_optimizer(self.pipeline, s.lr, s.weight_decay)
        scheduler = build_scheduler(optimizer, s.scheduler, s.warmup_steps, self.max_steps)
        self.model, self.optimizer, self.scheduler = acc.prepare(self.pipeline, optimizer, scheduler)
        # trainable weights are written by us (safetensors), not by save_state
        acc.register_save_state_pre_hook(lambda models, weights, output_dir: weights.clear())
        acc.register_load_state_pre_hook(lambda models, input_dir: models.clear())
        self._schedule = task_schedule([spec.weight for spec in self.specs], self.max_steps * int(s.grad_accum), self.config.seed)
        self._trained = True

    def _any(self, flag: bool) -> bool:
        """True on every process when `flag` is True on any (one all-reduce when distributed)."""
        if self.accelerator.num_processes == 1:
            return bool(flag)
        t = torch.tensor([1.0 if flag else 0.0], device=self.accelerator.device)
        return bool(self.accelerator.reduce(t, reduction="sum").item() > 0)

    # -- training --------------------------------------------------------------
    def train(self, resume: str | None = None, *, overwrite: bool = False) -> dict[str, float]:
        """Train for `max_steps` optimizer steps; return the final evaluation's metrics.

        A work dir holds one run (`videollm_core.engine.workdir`): a fresh run into a
        folder with another run's checkpoints is a `WorkDirInUse` error unless `overwrite`.

        Args:
            resume: `"auto"` (the newest complete checkpoint of the work dir, if any)
                or a checkpoint directory.
            overwrite: a fresh run first deletes the earlier run's outputs in the work dir.
        """
        if resume and overwrite:
            raise ConfigError("--overwrite starts the run over; it does not go with --resume", where="train",
                              hint="--resume continues the earlier run; --overwrite deletes it and starts a new one")
        self._prepare_training()
        acc, s = self.accelerator, self.settings
        resumed = self._resume(resume) if resume else None
        self._claim_work_dir(fresh=resumed is None, overwrite=overwrite)
        acc.wait_for_everyone()
        if not acc.trackers:  # the experiment trackers (train.log_with): events in work_dir/tensorboard by default
            if self._tensorboard is not None and resumed is not None:
                self._tensorboard.init_kwargs["purge_step"] = resumed + 1  # a resumed run overwrites what came after its checkpoint
            acc.init_trackers(self.work_dir.name)
        self._log = MetricsLog(self.work_dir, enabled=acc.is_main_process, resume_step=resumed, tracker=acc.log)
        iters = self._train_iterators()
        self.hooks.videollm_train_start(runner=self)
        final: dict[str, float] = {}
        evaluated_at = saved_at = -1
        with _SignalCatcher() as signals:
            bar = progress_bar(self.max_steps, self.step, desc="train", unit="step", enabled=acc.is_main_process)
            window: list[torch.Tensor] = []
            t0, samples = time.perf_counter(), 0
            self.model.train()
            while self.step < self.max_steps and not self.should_stop:
                logs, n = self._optimizer_step(iters)
                window.append(logs.pop("_loss"))
                samples += n
                self.step += 1
                bar.update(1)
                if self.step % int(s.log_every) == 0 or self.step == self.max_steps:
                    loss = float(acc.reduce(torch.stack(window).mean(), reduction="mean").item())
                    rate = samples * acc.num_processes / max(1e-9, time.perf_counter() - t0)
                    logs.update(loss=loss, lr=self.scheduler.get_last_lr()[0], samples_per_s=rate)
                    self._log.log({"step": self.step, "split": "train", **logs})
                    bar.set_postfix(loss=f"{loss:.4f}", lr=f"{logs['lr']:.2e}")
                    window, t0, samples = [], time.perf_counter(), 0
                self.hooks.videollm_step_end(runner=self, step=self.step, logs=dict(logs))
                last = self.step == self.max_steps
                if self._due(s.eval_every, last) and self._has_val():
                    final = self._evaluate_during_training()
                    evaluated_at = self.step
                    self.model.train()
                stop = self._any(signals.caught is not None) or self.should_stop
                new_best = self.best is not None and self.best["step"] == self.step
                if self._due(s.save_every, last) or new_best or stop:
                    self._save_checkpoint()
                    saved_at = self.step
                if stop and signals.caught is not None:
                    self.interrupted = signals.caught
                    log.warning("signal %s: checkpoint saved at step %d, stopping", signals.caught, self.step)
                    break
            bar.close()
        if self.interrupted is None and self.step > 0:
            if evaluated_at != self.step and self._has_val():
                final = self._evaluate_during_training()
            if saved_at != self.step:
                self._save_checkpoint()
        del iters
        self._write_summary()
        self._record_training_outputs()
        self.hooks.videollm_train_end(runner=self)
        acc.end_training()  # flushes and closes the trackers
        acc.trackers.clear()  # a later train() on this runner starts them again
        return final

    def _due(self, every: int, last: bool) -> bool:
        """At the last step, and every `every` steps when `every > 0`."""
        return last or (int(every) > 0 and self.step % int(every) == 0)

    def _optimizer_step(self, iters: list) -> tuple[dict[str, Any], int]:
        """`grad_accum` micro-batches, then one optimizer step; returns logs and samples seen."""
        acc, s = self.accelerator, self.settings
        ga = int(s.grad_accum)
        losses, n, poisoned = [], 0, False
        grad_norm = None
        for micro in range(ga):
            t = int(self._schedule[self.step * ga + micro])
            spec = self.specs[t]
            batch = next(iters[t]).to(acc.device)
            n += batch.batch_size
            with acc.accumulate(self.model):
                with acc.autocast():
                    outputs = self.model(batch, spec.name)
                    loss = self.pipeline.loss(outputs, batch, spec.name)["loss"]
                if self._any(not bool(torch.isfinite(loss.detach()).all())):
                    poisoned = True
                    self._non_finite(spec.name)
                else:
                    acc.backward(loss)
                    losses.append(loss.detach().float())
                if acc.sync_gradients:
                    if s.clip_grad and not poisoned:
                        grad_norm = acc.clip_grad_norm_(self.model.parameters(), float(s.clip_grad))
                        if self._any(not bool(torch.isfinite(grad_norm).all())):
                            poisoned = True
                            self._non_finite(spec.name, what="gradient norm")
                    if not poisoned:
                        self.optimizer.step()
                        self._tuner_step_end()
                    self.scheduler.step()
                    self.optimizer.zero_grad(set_to_none=True)
        logs: dict[str, Any] = {"_loss": torch.stack(losses).mean() if losses else torch.tensor(float("nan"))}
        if grad_norm is not None:
            logs["grad_norm"] = float(grad_norm)
        if poisoned:
            logs["skipped"] = 1
        return logs, n

    def _tuner_step_end(self) -> None:
        """Tuners with per-step work (AdaLoRA's rank allocation) run it while gradients exist."""
        if self.pipeline.tuner is not None:
            self.pipeline.tuner.step_end(self.pipeline.llm, self.step)

    def _non_finite(self, task: str, what: str = "loss") -> None:
        if self.settings.on_nan == "skip":
            log.warning("step %d (task %s): non-finite %s, step skipped (train.on_nan: skip)", self.step + 1, task, what)
            return
        last = ckpt.latest_checkpoint(self.ckpt_root)
        raise TrainingDiverged(
            f"the {what} became NaN or Inf; training stopped"
            + (f", the last good checkpoint is {last}" if last else " before any checkpoint was written"),
            where=f"step {self.step + 1}, task '{task}'",
            hint="lower train.lr, set train.clip_grad, check the data, or set train.on_nan: skip to drop such steps;"
                 " continue with --resume auto")


class _SignalCatcher:
    """Turns SIGTERM/SIGINT into a flag while training (main thread only)."""

    def __init__(self) -> None:
        self.caught: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "_SignalCatcher":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.caught is not None and signum == signal.SIGINT:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.caught = signum

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


__all__ = ["Runner", "TrainingDiverged"]
