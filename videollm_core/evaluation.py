"""Evaluation and prediction of the runner (a mixin of :class:`videollm_core.runner.Runner`).

Per task and split: ``pipeline.eval()``; per batch ``outputs = pipeline(batch, task)``,
``entries = pipeline.predict(outputs, batch, task)`` (one entry per sample); entries are
gathered across processes with ``accelerator.gather_for_metrics(..., use_gather_object=True)``
on a prepared DataLoader, which drops the samples a distributed sampler repeats to even
out the last batch. Every process then holds all entries and computes the same metrics
(``metric.compute(dataset.ground_truth())``), logged as ``TASK/KEY``. The main process
writes the official predictions (``predictions/TASK_SPLIT`` + the metric's
``prediction_suffix``, default ``.json``) and the metric's picture
(``plots/TASK_predictions.png``).
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from . import checkpoint as ckpt
from .errors import ConfigError
from .logging_utils import summary_line
from .plots import plot_loss, plot_metrics

log = logging.getLogger("videollm.runner")


class EvaluationMixin:
    """Needs ``specs``, ``settings``, ``accelerator``, ``pipeline``, ``work_dir``, ``dataset()``."""

    def _has_val(self) -> bool:
        return any(spec.data.get("val") and spec.metric for spec in self.specs)

    def build_metric(self, spec, dataset):
        """The task's metric, with the dataset's ``metric_args()`` as defaults."""
        return self.registries.metrics.build(spec.metric, where=spec.path("metric"), default_args=dataset.metric_args())

    def _eval_loader(self, spec, split: str):
        key = (spec.name, split)
        if key not in self._eval_loaders:
            from torch.utils.data import DataLoader

            ds = self.dataset(spec, split)
            loader = DataLoader(ds, batch_size=int(self.settings.batch_size), shuffle=False, collate_fn=ds.collate,
                                num_workers=int(self.settings.num_workers), generator=torch.Generator().manual_seed(0))
            self._eval_loaders[key] = self.accelerator.prepare_data_loader(loader, device_placement=False)
        return self._eval_loaders[key]

    @torch.no_grad()
    def _entries(self, spec, split: str) -> list[dict[str, Any]]:
        """All prediction entries of ``split`` for one task, gathered on every process."""
        acc = self.accelerator
        was_training = self.pipeline.training
        self.pipeline.eval()
        out: list[dict[str, Any]] = []
        try:
            for batch in self._eval_loader(spec, split):
                batch = batch.to(acc.device)
                with acc.autocast():
                    outputs = self.pipeline(batch, spec.name)
                entries = self.pipeline.predict(outputs, batch, spec.name)
                out.extend(acc.gather_for_metrics(entries, use_gather_object=True))
        finally:
            self.pipeline.train(was_training)
        return out

    def _write_predictions(self, spec, split: str, metric, entries: list[dict[str, Any]], ds, with_plot: bool) -> Path | None:
        """Official predictions file (+ the task's picture); main process only."""
        if not self.accelerator.is_main_process:
            return None
        predictions = metric.format_predictions(entries)
        suffix = getattr(metric, "prediction_suffix", ".json") or ""  # "": a folder or a bare name
        path = self.work_dir / "predictions" / f"{spec.name}_{split}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        metric.save_predictions(predictions, path)
        if with_plot:
            picture = self.work_dir / "plots" / f"{spec.name}_predictions.png"
            picture.parent.mkdir(parents=True, exist_ok=True)
            try:
                metric.plot(predictions, ds.ground_truth(), picture)
            except Exception as e:  # a picture never breaks a run
                log.warning("task %s: could not draw %s: %s", spec.name, picture, e)
        return path

    def _score(self, split: str) -> dict[str, float]:
        """Evaluate every task that has ``split`` data and a metric; keys ``TASK/KEY``."""
        scores: dict[str, float] = {}
        for spec in self.specs:
            ds = self.dataset(spec, split)
            if ds is None or not spec.metric:
                continue
            metric = self.build_metric(spec, ds)
            metric.reset()
            entries = self._entries(spec, split)
            metric.update(entries)
            values = metric.compute(ds.ground_truth())
            scores.update({f"{spec.name}/{k}": float(v) for k, v in values.items()})
            self._write_predictions(spec, split, metric, entries, ds, with_plot=True)
            if self._primary is None:  # the first evaluated task picks the best checkpoint
                self._primary = (f"{spec.name}/{metric.primary_key}", bool(metric.higher_is_better))
        return scores

    def _evaluate_during_training(self) -> dict[str, float]:
        scores = self._score("val")
        key, higher = self._primary or ("", True)
        value = scores.get(key)
        if value is not None and value == value:  # not NaN
            better = self.best is None or (value > self.best["value"] if higher else value < self.best["value"])
            if better:
                self.best = {"step": self.step, "key": key, "value": value, "higher_is_better": higher}
        self._log.log({"step": self.step, "split": "val", **scores})
        if self.accelerator.is_main_process:
            best = (self.best["key"], self.best["value"], self.best["step"]) if self.best else None
            self.accelerator.print(summary_line(self.step, self.max_steps, "val", scores, best))
        self.hooks.videollm_evaluate_end(runner=self, step=self.step, metrics=dict(scores))
        return scores

    def _load_for_inference(self, checkpoint: str | os.PathLike | None) -> None:
        if self._trained or checkpoint is None:
            return
        path = self.resolve_checkpoint(checkpoint)
        if path is None:
            log.warning("no checkpoint in %s: using the freshly built (untrained) pipeline", self.ckpt_root)
            return
        self.load_weights(path)
        self.step = int(ckpt.read_json(path / ckpt.STATE_FILE)["step"])

    def evaluate(self, split: str = "val", checkpoint: str | os.PathLike | None = "best") -> dict[str, float]:
        """Score ``split`` with each task's metric; returns ``{TASK/KEY: value}``.

        Outside training the weights come from ``checkpoint`` (``"best"``, ``"last"`` or a
        directory; None keeps the pipeline as built). Writes predictions, the task
        pictures and ``eval_SPLIT.json`` into the work dir.
        """
        if not any(spec.data.get(split) and spec.metric for spec in self.specs):
            raise ConfigError(f"no task has data.{split} and a metric to evaluate", where="data",
                              hint=f"add data.{split} (and metric:) to the config")
        self._load_for_inference(checkpoint)
        scores = self._score(split)
        if self.accelerator.is_main_process:
            ckpt.write_json_atomic(self.work_dir / f"eval_{split}.json", {"step": self.step, **scores})
            self.accelerator.print(summary_line(self.step, self.max_steps, split, scores, None))
        return scores

    def predict(self, split: str = "test", checkpoint: str | os.PathLike | None = "best") -> dict[str, Path]:
        """Write official-format predictions of ``split`` (``val`` when a task has no test data).

        Returns ``{task: path}`` (paths on the main process; empty elsewhere).
        """
        self._load_for_inference(checkpoint)
        paths: dict[str, Path] = {}
        for spec in self.specs:
            use = split if spec.data.get(split) else "val"
            ds = self.dataset(spec, use)
            if ds is None:
                raise ConfigError(f"task '{spec.name}' has no data.{split} (nor data.val) to predict", where=spec.path("data"))
            if not spec.metric:
                raise ConfigError(f"task '{spec.name}' has no metric to write official predictions", where=spec.path("metric"))
            metric = self.build_metric(spec, ds)
            path = self._write_predictions(spec, use, metric, self._entries(spec, use), ds, with_plot=False)
            if path is not None:
                paths[spec.name] = path
        return paths

    def _finish_plots(self) -> None:
        if not self.accelerator.is_main_process:
            return
        plot_loss(self.history, self.work_dir / "plots" / "loss.png")
        plot_metrics(self.history, self.work_dir / "plots" / "metrics.png")
        with open(self.work_dir / "summary.json", "w", encoding="utf-8") as f:
            json.dump({"step": self.step, "best": self.best, "interrupted": self.interrupted}, f, indent=1)


__all__ = ["EvaluationMixin"]
