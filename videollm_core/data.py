"""The data-side roles: datasets, metrics and feature sources, with the data-error policy.

Shapes: `B` batch, `T` feature steps, `Df` feature dim. Times are seconds.
Every problem with a user's data is a [`DataError`][videollm_core.errors.DataError] naming the
file and the row; [`DataErrors`][videollm_core.data.DataErrors] decides whether it stops the run or the item is
skipped and reported (`data.on_error: raise | skip`).
"""
from __future__ import annotations

from abc import ABC, ABCMeta, abstractmethod
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from .errors import ConfigError, DataError, PluginError, UserError
from .paths import read_json
from .types import VideoBatch

ON_ERROR = ("raise", "skip")


class DataErrors:
    """The one data-error policy of a dataset: `raise` on a bad item, or `skip` it and report it.

    Args:
        policy: `"raise"` or `"skip"` (a dataset's `on_error` argument).
        where: the argument's place, for the message on a bad policy.

    Use: `except DataError as e: self.errors.handle(e); continue` in a dataset's loop.
    """

    def __init__(self, policy: str = "raise", where: str = "data.on_error") -> None:
        if policy not in ON_ERROR:
            raise ConfigError(f"on_error must be 'raise' or 'skip', got {policy!r}", where=where)
        self.policy = policy
        #: the dropped items, one `"where: problem"` line each.
        self.skipped: list[str] = []

    @property
    def skip(self) -> bool:
        return self.policy == "skip"

    def handle(self, error: UserError) -> None:
        """Raise `error` under `raise`; record `"where: message"` under `skip`."""
        if not self.skip:
            raise error
        self.skipped.append(f"{error.where}: {error.message}" if error.where else error.message)


class VideoDataset(torch.utils.data.Dataset, metaclass=ABCMeta):
    """A task's dataset, reading the benchmark's real on-disk format.

    `__getitem__` returns a sample dict with `features` `[T, Df]` (numpy or
    tensor), `timestamps` `[T, 2]` seconds, optional `query` (str), `targets`
    (dict of arrays with leading `T` or per-sample values) and `meta` (dict with
    `video_id`). [`collate`][videollm_core.data.VideoDataset.collate] pads a list of them into a [`VideoBatch`][videollm_core.types.VideoBatch].

    The runner supplies `feature_dim` (the encoder's `Df`) and `on_error` to
    constructors that take them; a dataset taking `on_error` keeps its policy in
    `errors` (`self.errors = DataErrors(on_error, where=...)`).
    """

    task: ClassVar[str] = ""
    #: `head_args` keys this class supplies (a head's required argument it fills needs no YAML value).
    provides_head_args: ClassVar[tuple[str, ...]] = ()
    #: `metric_args` keys this class supplies.
    provides_metric_args: ClassVar[tuple[str, ...]] = ()
    #: the `on_error` policy; the default raises on every bad item.
    errors: DataErrors = DataErrors()
    #: feature steps per second (`None`: not fixed); model folders record it for `videollm predict`.
    fps: float | None = None
    #: seconds of video one sample covers (`None`: whole videos); recorded likewise.
    window: float | None = None
    #: the constructor argument naming a split's annotation file, when samples are anchored at
    #: annotated times or queries: `videollm predict --annotations FILE` builds this class on
    #: `FILE` with `settings`. `None`: samples come from the features alone.
    annotations_arg: ClassVar[str | None] = None

    @property
    def skipped(self) -> list[str]:
        """What `on_error: skip` dropped so far, one `"where: problem"` line each."""
        return self.errors.skipped

    @skipped.setter
    def skipped(self, value: Any) -> None:
        raise PluginError(f"{type(self).__name__} sets self.skipped, which the VideoDataset base class keeps in "
                          f"self.errors since plugin API 2.0", where=type(self).__name__,
                          hint="set self.errors = DataErrors(on_error, where=...) in __init__ and call "
                               "self.errors.handle(error) for each bad item")

    def skip_report(self) -> list[str]:
        """What `on_error: skip` dropped (the runner logs it after building the dataset)."""
        return list(self.errors.skipped)

    def class_names(self) -> list[str] | None:
        """The class names in head order (class `i` is head output `i`), when the dataset has them."""
        return None

    def reading(self) -> dict[str, Any]:
        """How this dataset reads a video's features, recorded in model folders so that
        `videollm predict` reads new features alike: `fps` (feature steps per second),
        `window` (seconds per sample; `None`: whole videos), and where they apply
        `channels_first` (files hold `[Df, T]`), `frames_per_step` and `frame_rate`
        (a head that answers per frame: each step covers `frames_per_step` frames at
        `frame_rate` frames per second)."""
        return {"fps": self.fps, "window": self.window}

    def settings(self) -> dict[str, Any]:
        """Constructor arguments other than files (JSON data) with which this class reads another
        annotation file as it read this split (`videollm predict --annotations`, with
        `annotations_arg`): split, step rate, stride, windows... Default: none."""
        return {}

    def class_table_file(self) -> str | None:
        """The file the class table is read from (`actions.csv`, `mapping.txt`...), for messages."""
        return None

    @abstractmethod
    def ground_truth(self) -> Any:
        """The ground truth in the object form the task's [`Metric`][videollm_core.data.Metric] evaluates."""
        raise NotImplementedError  # pragma: no cover - abstract

    def head_args(self) -> dict[str, Any]:
        """Defaults for the head's constructor (e.g. `num_classes`)."""
        return {}

    def metric_args(self) -> dict[str, Any]:
        """Defaults for the metric's constructor."""
        return {}

    def collate(self, samples: list[dict[str, Any]]) -> VideoBatch:
        """Right-pad samples into a [`VideoBatch`][videollm_core.types.VideoBatch] (see [`pad_collate`][videollm_core.data.pad_collate])."""
        return pad_collate(samples)


def _as_tensor(x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    return torch.as_tensor(x)


def pad_collate(samples: list[dict[str, Any]]) -> VideoBatch:
    """Pad `features [T_i, Df]` / `timestamps [T_i, 2]` to `max T_i`.

    Target values with a leading dimension equal to the sample's `T_i` are padded
    (with `-100` for integer dtypes, `0` otherwise) and stacked; other tensors of
    equal shape are stacked; everything else is kept as a list.
    """
    if not samples:
        raise ValueError("pad_collate needs at least one sample")
    feats = [_as_tensor(s["features"]).float() for s in samples]
    lengths = [int(f.shape[0]) for f in feats]
    t_max = max(lengths)
    b = len(samples)
    features = feats[0].new_zeros((b, t_max) + tuple(feats[0].shape[1:]))
    mask = torch.zeros(b, t_max, dtype=torch.bool)
    timestamps = torch.zeros(b, t_max, 2)
    for i, (f, s) in enumerate(zip(feats, samples)):
        features[i, : lengths[i]] = f
        mask[i, : lengths[i]] = True
        timestamps[i, : lengths[i]] = _as_tensor(s["timestamps"]).float()
    targets: dict[str, Any] = {}
    keys = samples[0].get("targets", {}).keys()
    for key in keys:
        values = [s["targets"][key] for s in samples]
        targets[key] = _collate_target(values, lengths, t_max)
    queries = [s.get("query") for s in samples]
    return VideoBatch(
        features=features,
        mask=mask,
        timestamps=timestamps,
        queries=queries if any(q is not None for q in queries) else None,
        targets=targets,
        meta=[dict(s.get("meta", {})) for s in samples],
    )


def _collate_target(values: list[Any], lengths: list[int], t_max: int) -> Any:
    if not all(isinstance(v, (Tensor,)) or hasattr(v, "__array__") for v in values):
        return values
    tensors = [_as_tensor(v) for v in values]
    if all(t.dim() >= 1 and t.shape[0] == n for t, n in zip(tensors, lengths)) and len(set(t.shape[1:] for t in tensors)) == 1:
        fill = -100 if not tensors[0].is_floating_point() and tensors[0].dtype != torch.bool else 0
        out = tensors[0].new_full((len(tensors), t_max) + tuple(tensors[0].shape[1:]), fill)
        for i, t in enumerate(tensors):
            out[i, : t.shape[0]] = t
        return out
    if len(set(tuple(t.shape) for t in tensors)) == 1:
        return torch.stack(tensors)
    return tensors


class Metric(ABC):
    """A benchmark metric, usable on its own (`videollm evaluate TASK`).

    Registered under the task's name. It reads and writes the benchmark's official
    files: `load_ground_truth`, [`load_predictions`][videollm_core.data.Metric.load_predictions], [`save_predictions`][videollm_core.data.Metric.save_predictions].
    In training, heads' prediction entries are gathered with `update` and
    turned into the official predictions object by [`format_predictions`][videollm_core.data.Metric.format_predictions].
    """

    task: ClassVar[str] = ""
    #: the exact keys `evaluate` returns (values x100 where the official tool reports %).
    keys: ClassVar[tuple[str, ...]] = ()
    #: key used to pick the best checkpoint, and whether higher is better.
    primary_key: ClassVar[str] = ""
    higher_is_better: ClassVar[bool] = True
    #: the file name suffix of the official predictions (`""`: a folder or a bare name).
    prediction_suffix: ClassVar[str] = ".json"

    def __init__(self) -> None:
        """Metrics hold their settings only: the runner scores the whole split at once
        (`evaluate(format_predictions(entries), ground_truth)`)."""

    # -- official files -------------------------------------------------
    def load_ground_truth(self, path: str | Path) -> Any:
        """The benchmark's ground-truth file at `path`, in the form `evaluate` takes (needed by
        `videollm evaluate` only: training scores against the dataset's `ground_truth()`)."""
        raise ConfigError(f"the {type(self).__name__} metric cannot read ground-truth files", where="--ground-truth",
                          hint=f"its plugin would define {type(self).__name__}.load_ground_truth")

    def load_predictions(self, path: str | Path) -> Any:
        """Default: a JSON file."""
        return read_json(path, "predictions file")

    def save_predictions(self, predictions: Any, path: str | Path) -> None:
        """Default: JSON. Tasks with another official format override it."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(predictions, f)

    def open_writer(self, path: str | Path) -> Any:
        """A writer that streams predictions to `path` batch by batch (`write(entries)`,
        `close() -> predictions`), for tasks with large predictions; default `None`: the
        entries are kept and saved once by [`save_predictions`][videollm_core.data.Metric.save_predictions]."""
        return None

    def format_predictions(self, entries: list[dict[str, Any]]) -> Any:
        """Head entries -> the official predictions object (default: the list itself)."""
        return entries

    # -- evaluation -------------------------------------------------------
    @abstractmethod
    def evaluate(self, predictions: Any, ground_truth: Any) -> dict[str, float]:  # pragma: no cover
        """Official predictions object and ground truth -> `{key: value}` for `keys`."""
        raise NotImplementedError

    # -- pictures -----------------------------------------------------------
    def plot(self, predictions: Any, ground_truth: Any, path: str | Path, max_videos: int = 3) -> bool:
        """Draw predictions against ground truth for a few videos into the PNG `path`.

        Timelines of segments for localisation and segmentation tasks, scores over time
        for online detection. Returns False when the task has no picture (default).
        """
        return False


class FeatureSource(ABC):
    """Per-video features `[T, Df]` float32 from one storage layout.

    Subclasses implement [`read`][videollm_core.data.FeatureSource.read] and [`video_ids`][videollm_core.data.FeatureSource.video_ids], and set `self.fps`
    (feature steps per second). Every problem a user can cause (a missing file, key or
    video, an unreadable file) is a [`DataError`][videollm_core.errors.DataError] naming the file and the key,
    raised when that video is read: opening a source is cheap and reads nothing.
    """

    #: feature steps per second (`None`: not known to the source; the dataset derives its timing).
    fps: float | None
    #: the source yields decoded frames `[T, C, H, W]` (pixels) rather than feature vectors.
    pixels: bool = False
    #: constructor arguments naming where the features are (a file, a folder, nested sources):
    #: model folders record a source's other arguments (`key`...) and `videollm predict`
    #: puts the new location in (`claims`).
    location_args: ClassVar[tuple[str, ...]] = ("path", "dir", "sources")

    @abstractmethod
    def read(self, video_id: str) -> np.ndarray:  # pragma: no cover - abstract
        """`[T, Df]` float32 features of `video_id` (a read-only memory map where the format allows)."""
        raise NotImplementedError

    @abstractmethod
    def video_ids(self) -> list[str]:  # pragma: no cover - abstract
        """Every video id the source holds, sorted."""
        raise NotImplementedError

    @property
    def dim(self) -> int:
        """`Df`: the feature dimension (the first video's, unless the source knows it up front)."""
        ids = self.video_ids()
        if not ids:
            raise DataError("the feature source holds no video", where=self.where)
        return int(self.read(ids[0]).shape[1])

    @property
    def where(self) -> str:
        """The file or folder this source reads (used in error messages)."""
        return type(self).__name__

    def read_clip(self, clip_id: str, video_id: str, start_sec: float, end_sec: float) -> np.ndarray:
        """Features of a clip `[start_sec, end_sec]` of `video_id` (seconds in the video).

        Default: the layout stores clips on their own, under `clip_id`. Sources that
        store whole videos (Ego4D's per-video `.pt`) cut the clip's steps out instead.
        """
        return self.read(clip_id)

    @classmethod
    def claims(cls, path: Path) -> dict[str, Any] | None:
        """The constructor arguments (without `fps`) to read `path` with this class, or `None`."""
        return None


__all__ = ["DataErrors", "VideoDataset", "pad_collate", "Metric", "FeatureSource", "ON_ERROR"]
