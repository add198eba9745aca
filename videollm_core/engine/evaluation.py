"""Evaluation and prediction of the runner (a mixin of [`videollm_core.engine.runner.Runner`][videollm_core.engine.runner.Runner]).

Per task and split: `pipeline.eval()`; per batch `outputs = pipeline(batch, task)`,
`entries = pipeline.predict(outputs, batch, task)` (one entry per sample); entries are
gathered across processes with `accelerator.gather_for_metrics(..., use_gather_object=True)`
on a prepared DataLoader, which drops the samples a distributed sampler repeats to even
out the last batch. The main process hands each batch's entries to the metric's
prediction writer (`videollm_core.engine.prediction_writer`), so the official predictions
(`predictions/TASK_SPLIT` + the metric's `prediction_suffix`, default `.json`) are
written as they are made and never held whole in memory when the metric streams them.
The main process then scores them (`metric.evaluate(writer.close(),
dataset.ground_truth())`) and fires `videollm_task_evaluated` (the plots plugin draws
`plots/TASK_predictions.png` there); the scores, logged as `TASK/KEY`, are broadcast to
every process. A progress bar counts the batches of each task and split
(`videollm_core.engine.logs.progress_bar`, main process only); `runner.outputs`
records where the predictions, scores and pictures went and which checkpoint was used.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from . import checkpoint as ckpt
from ..errors import ConfigError
from .state import RunnerState
from .logs import progress_bar, summary_line
from .parameters import count_parameters
from .prediction_writer import open_writer

log = logging.getLogger("videollm.runner")


class EvaluationMixin(RunnerState):
    """Needs `specs`, `settings`, `accelerator`, `pipeline`, `work_dir`, `dataset()`."""

    def _has_val(self) -> bool:
        return any(spec.data.get("val") and spec.metric for spec in self.specs)

    def build_metric(self, spec, dataset):
        """The task's metric, with the dataset's `metric_args()` as defaults."""
        return self.registries.metrics.build(spec.metric, where=spec.path("metric"), default_args=dataset.metric_args())

    def _eval_loader(self, spec, split: str):
        key = (spec.name, split)
        if key not in self._eval_loaders:
            from torch.utils.data import DataLoader

            ds = self.dataset(spec, split)
            loader = DataLoader(ds, batch_size=int(spec.batch_size or self.config.data.batch_size), shuffle=False, collate_fn=ds.collate,
                                num_workers=int(self.config.data.num_workers), generator=torch.Generator().manual_seed(0))
            self._eval_loaders[key] = self.accelerator.prepare_data_loader(loader, device_placement=False)
        return self._eval_loaders[key]

    def _prediction_path(self, spec, split: str, metric) -> Path:
        return self.work_dir / "predictions" / f"{spec.name}_{split}{metric.prediction_suffix}"  # "": a folder or a bare name

    @torch.no_grad()
    def _predict_to_disk(self, spec, split: str, metric) -> tuple[Path, Any]:
        """Predict `split` for one task; each gathered batch goes straight to the metric's writer.

        Returns `(path, predictions)`: what the writer's `close()` returned on the main
        process (the object `metric.evaluate` takes), None elsewhere.
        """
        acc = self.accelerator
        path = self._prediction_path(spec, split, metric)
        writer = open_writer(metric, path) if acc.is_main_process else None
        was_training = self.pipeline.training
        self.pipeline.eval()
        loader = self._eval_loader(spec, split)
        bar = progress_bar(len(loader), desc=f"{split} {spec.name}", unit="batch", enabled=acc.is_main_process, leave=False)
        try:
            for batch in loader:
                batch = batch.to(acc.device)
                with acc.autocast():
                    outputs = self.pipeline(batch, spec.name)
                entries = acc.gather_for_metrics(self.pipeline.predict(outputs, batch, spec.name), use_gather_object=True)
                if writer is not None:
                    writer.write(entries)
                bar.update(1)
        finally:
            bar.close()
            self.pipeline.train(was_training)
        if acc.is_main_process:
            self.outputs.predictions = path.parent
        return path, (writer.close() if writer is not None else None)

    def _on_main(self, fn) -> Any:
        """`fn()` on the main process, its result (or its error, re-raised) on every process."""
        result: list[Any] = [None]
        if self.accelerator.is_main_process:
            try:
                result[0] = ("ok", fn())
            except Exception as e:  # raised on every process below, so none waits forever
                result[0] = ("error", e)
        if self.accelerator.num_processes > 1:
            from accelerate.utils import broadcast_object_list

            broadcast_object_list(result, from_process=0)
        status, value = result[0]
        if status == "error":
            raise value
        return value

    def _score(self, split: str) -> dict[str, float]:
        """Evaluate every task that has `split` data and a metric; keys `TASK/KEY`."""
        scores: dict[str, float] = {}
        for spec in self.specs:
            ds = self.dataset(spec, split)
            if ds is None or not spec.metric:
                continue
            metric = self.build_metric(spec, ds)
            _, predictions = self._predict_to_disk(spec, split, metric)

            def evaluate(metric=metric, predictions=predictions, ds=ds, name=spec.name):
                ground_truth = ds.ground_truth()
                values = {k: float(v) for k, v in metric.evaluate(predictions, ground_truth).items()}
                self.hooks.videollm_task_evaluated(runner=self, task=name, split=split, metric=metric,
                                                   predictions=predictions, ground_truth=ground_truth, scores=values)
                return values

            values = self._on_main(evaluate)
            scores.update({f"{spec.name}/{k}": v for k, v in values.items()})
            if self.primary_metric is None:  # the first evaluated task picks the best checkpoint
                self.primary_metric = (f"{spec.name}/{metric.primary_key}", bool(metric.higher_is_better))
        return scores

    def _evaluate_during_training(self) -> dict[str, float]:
        scores = self._score("val")
        key, higher = self.primary_metric or ("", True)
        if key and key not in scores and any(k.startswith(key.partition("/")[0] + "/") for k in scores):
            raise ConfigError(f"the evaluation gave no '{key}'", where="train.primary_metric",
                              hint="its keys: " + ", ".join(sorted(scores)))
        value = scores.get(key)
        if value is not None and value == value:  # not NaN
            better = self.best is None or (value > self.best["value"] if higher else value < self.best["value"])
            if better:
                self.best = {"step": self.step, "key": key, "value": value, "higher_is_better": higher}
        assert self._log is not None  # (train() opened it)
        self._log.log({"step": self.step, "split": "val", **scores})
        if self.accelerator.is_main_process:
            best = (self.best["key"], self.best["value"], self.best["step"]) if self.best else None
            self.accelerator.print(summary_line(self.step, self.max_steps, "val", scores, best))
        self.hooks.videollm_evaluate_end(runner=self, step=self.step, metrics=dict(scores))
        return scores

    def _load_for_inference(self, checkpoint: str | os.PathLike | None, allow_untrained: bool = True) -> None:
        if self._trained or checkpoint is None:
            return
        path = self.resolve_checkpoint(checkpoint)
        if path is None:
            if not allow_untrained:
                raise ConfigError(f"no checkpoint in {self.ckpt_root}: the model is untrained", where="--checkpoint",
                                  hint="train first, pass --checkpoint PATH (a step_* folder or a `videollm export` folder),"
                                       " or add --allow-untrained to use the freshly built weights")
            log.warning("no checkpoint in %s: using the freshly built (untrained) pipeline", self.ckpt_root)
            self.outputs.checkpoint_note = "none (untrained weights)"
            return
        self.load_weights(path)
        state = path / ckpt.STATE_FILE
        from .pretrained import read_info

        self.step = int((ckpt.read_json(state) if state.is_file() else read_info(path)).get("step") or 0)
        self.outputs.checkpoint = path
        self.outputs.checkpoint_kind = str(checkpoint) if checkpoint in ("best", "last") else ""
        self.outputs.checkpoint_note = f"step {self.step}"

    def evaluate(self, split: str = "val", checkpoint: str | os.PathLike | None = "best",
                 allow_untrained: bool = True) -> dict[str, float]:
        """Score `split` with each task's metric; returns `{TASK/KEY: value}`.

        Outside training the weights come from `checkpoint` (`"best"`, `"last"` or a
        directory, or a `videollm export` folder; None keeps the pipeline as built; with
        `allow_untrained=False` a missing checkpoint is an error). Writes predictions, the
        task pictures and `eval_SPLIT.json` into the work dir.
        """
        if not any(spec.data.get(split) and spec.metric for spec in self.specs):
            raise ConfigError(f"no task has data.{split} and a metric to evaluate", where="data",
                              hint=f"add data.{split} (and metric:) to the config")
        self._load_for_inference(checkpoint, allow_untrained)
        scores = self._score(split)
        if self.accelerator.is_main_process:
            self.outputs.scores = self.work_dir / f"eval_{split}.json"
            ckpt.write_json_atomic(self.outputs.scores, {"step": self.step, **scores})
            self.accelerator.print(summary_line(self.step, self.max_steps, split, scores, None))
        self.outputs.plots = self.work_dir / "plots" if (self.work_dir / "plots").is_dir() else None
        return scores

    def predict(self, split: str = "test", checkpoint: str | os.PathLike | None = "best",
                allow_untrained: bool = True) -> dict[str, Path]:
        """Write official-format predictions of `split` (`val` when a task has no test data).

        `checkpoint` and `allow_untrained` as for `evaluate`. Returns `{task: path}`
        (paths on the main process; empty elsewhere).
        """
        self._load_for_inference(checkpoint, allow_untrained)
        paths: dict[str, Path] = {}
        for spec in self.specs:
            use = split if spec.data.get(split) else "val"
            ds = self.dataset(spec, use)
            if ds is None:
                raise ConfigError(f"task '{spec.name}' has no data.{split} (nor data.val) to predict", where=spec.path("data"))
            if not spec.metric:
                raise ConfigError(f"task '{spec.name}' has no metric to write official predictions", where=spec.path("metric"))
            metric = self.build_metric(spec, ds)
            path, _ = self._predict_to_disk(spec, use, metric)
            if self.accelerator.is_main_process:
                paths[spec.name] = path
        return paths

    def _write_summary(self) -> None:
        """`summary.json`: the last step, the best checkpoint, the run id, the interrupting signal, the
        parameter counts (`count_parameters`; the study's report reads them)."""
        if not self.accelerator.is_main_process:
            return
        ckpt.write_json_atomic(self.work_dir / "summary.json",
                               {"step": self.step, "best": self.best, "run_id": self.run_id, "interrupted": self.interrupted,
                                "max_steps": self.max_steps, "stopped_early": bool(self.should_stop),
                                "parameters": count_parameters(self.pipeline)})


__all__ = ["EvaluationMixin"]
