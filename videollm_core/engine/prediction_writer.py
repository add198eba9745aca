"""Prediction writers: a task's predictions go to disk batch by batch, as they are made.

The runner (evaluation and `predict`) and any other caller use one protocol:

    writer = open_writer(metric, path)    # metric.open_writer(path) when the metric has one
    for batch in data:
        writer.write(entries)             # the head's prediction entries of this batch
    predictions = writer.close()          # the file is complete; returns what metric.evaluate()
                                          # and metric.plot() take (lazy where predictions are big)

A metric whose predictions are large (per-frame score matrices, thousands of scored
segments) defines `open_writer(path)` returning an object with `write(entries)` and
`close()`, and writes its official format incrementally (e.g. the OAD score folder).
Every other metric gets `BufferedWriter`: entries are kept until `close()`,
which formats them (`metric.format_predictions`) and saves them
(`metric.save_predictions`): right for predictions of a few values per sample.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from .files import atomic_path


class PredictionWriter(Protocol):
    """What `Metric.open_writer(path)` returns."""

    def write(self, entries: list[dict[str, Any]]) -> None: ...

    def close(self) -> Any: ...


class BufferedWriter:
    """The default writer: collects entries, formats and saves them once at `close`."""

    def __init__(self, metric: Any, path: str | Path) -> None:
        self.metric, self.path = metric, Path(path)
        self._entries: list[dict[str, Any]] = []

    def write(self, entries: list[dict[str, Any]]) -> None:
        self._entries.extend(entries)

    def close(self) -> Any:
        predictions = self.metric.format_predictions(self._entries)
        with atomic_path(self.path, "predictions") as tmp:  # whole or not at all, even on a full disk
            self.metric.save_predictions(predictions, tmp)
        self._entries = []
        return predictions


def open_writer(metric: Any, path: str | Path) -> PredictionWriter:
    """`metric.open_writer(path)` when the metric streams its files, else a `BufferedWriter`."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    writer = metric.open_writer(path)
    return writer if writer is not None else BufferedWriter(metric, path)


__all__ = ["PredictionWriter", "BufferedWriter", "open_writer"]
