"""The paper's own numbers, set beside ours in the study tables.

`paper_numbers.yaml` (bundled with this package) quotes numbers reported by the VideoLLM paper
(Chen et al. 2023) and, for RQ5, by the task-specific models it compares with. They are
**quoted, never measured here**: each entry names its source, and its value is in the unit of
our metric for `task` under the key `metric` (exactly as that metric's `evaluate` returns
it; a run records it as `TASK/KEY`, `PaperNumber.record_key`). Only numbers stated in
the project's sources are kept; none is estimated.
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from ..config import _parse_yaml
from ..config_limits import MAX_CONFIG_BYTES

DEFAULT_PATH = Path(__file__).with_name("paper_numbers.yaml")
RQS = ("RQ1", "RQ2", "RQ3", "RQ4", "RQ5")
TASKS = ("oad", "anticipation", "lta", "online_caption", "moment_query", "nlq", "qvhighlights",
         "action_segmentation", "dense_caption")
SPLITS = ("val", "test")
TUNINGS = ("basic", "partial", "lora", "prefix", "prompt", None)


@dataclass(frozen=True)
class PaperNumber:
    """One quoted number: `value` of `metric` (our key) for `task` on `dataset`/`split`."""

    rq: str
    task: str
    dataset: str
    split: str
    model: str
    llm: str | None
    tuning: str | None
    metric: str
    value: float
    source: str
    note: str | None = None

    @property
    def record_key(self) -> str:
        """The key a run's `metrics.jsonl` / `eval_SPLIT.json` holds it under."""
        return f"{self.task}/{self.metric}"


_FIELDS = tuple(f.name for f in fields(PaperNumber))
_REQUIRED = tuple(n for n in _FIELDS if n != "note")
_TEXT = ("task", "dataset", "model", "metric", "source")


def _entry(i: int, raw: Any, where: str) -> PaperNumber:
    def bad(msg: str) -> ValueError:
        return ValueError(f"{where}: entry {i}: {msg}")

    if not isinstance(raw, dict):
        raise bad(f"must be a mapping, got {type(raw).__name__}")
    missing = [n for n in _REQUIRED if n not in raw]
    if missing:
        raise bad(f"missing field(s) {', '.join(missing)}")
    unknown = sorted(str(k) for k in raw if k not in _FIELDS)
    if unknown:
        raise bad(f"unknown field(s) {', '.join(unknown)} (fields: {', '.join(_FIELDS)})")
    for name in _TEXT:
        if not isinstance(raw[name], str) or not raw[name].strip():
            raise bad(f"{name} must be a non-empty string, got {raw[name]!r}")
    if raw["rq"] not in RQS:
        raise bad(f"unknown rq {raw['rq']!r} (one of {', '.join(RQS)})")
    if raw["task"] not in TASKS:
        raise bad(f"unknown task {raw['task']!r} (one of {', '.join(TASKS)})")
    if raw["split"] not in SPLITS:
        raise bad(f"split must be val or test, got {raw['split']!r}")
    if raw["tuning"] not in TUNINGS:
        raise bad(f"unknown tuning {raw['tuning']!r} (one of {', '.join(map(str, TUNINGS))})")
    for name in ("llm", "note"):
        if raw.get(name) is not None and not isinstance(raw[name], str):
            raise bad(f"{name} must be a string or null, got {raw[name]!r}")
    value = raw["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad(f"value must be a finite number, got {value!r}")
    return PaperNumber(**{**raw, "value": float(value)})


def paper_numbers(path: str | os.PathLike | None = None) -> list[PaperNumber]:
    """The entries of `path` (default: the bundled `paper_numbers.yaml`), validated:
    a missing field, an unknown rq/task/split/tuning or a non-numeric value is a
    `ValueError` naming the entry's index."""
    path = Path(path) if path is not None else DEFAULT_PATH
    with open(path, "rb") as f:
        raw = f.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ValueError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = _parse_yaml(raw.decode("utf-8"), str(path))  # SafeLoader, duplicate keys refused, bounded
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(data, list):
        raise ValueError(f"{path}: the top level must be a list of entries, got {type(data).__name__}")
    return [_entry(i, raw_entry, str(path)) for i, raw_entry in enumerate(data)]


@functools.lru_cache(maxsize=1)
def _bundled() -> tuple[PaperNumber, ...]:
    return tuple(paper_numbers())


def lookup(task: str, metric: str | None = None, rq: str | None = None) -> list[PaperNumber]:
    """The bundled numbers of `task`, optionally only those of `metric` (our key) and `rq`."""
    return [n for n in _bundled() if n.task == task and (metric is None or n.metric == metric) and (rq is None or n.rq == rq)]
