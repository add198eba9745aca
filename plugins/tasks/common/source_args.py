"""The data-source arguments every task dataset takes, declared once.

[`SourceArgs`][videollm_plugins.tasks.common.source_args.SourceArgs] holds them and documents
them; [`with_source_args`][videollm_plugins.tasks.common.source_args.with_source_args] adds them
to a dataset's `__init__`, which then receives them packed as `source`:

```python
class MyDataset(VideoDataset):
    @with_source_args(after="annotations")
    def __init__(self, annotations: str | None = None, fps: float = 4.0, *, source: SourceArgs) -> None:
        self.features = source.store(fps=fps, where="MyDataset")
```

`MyDataset(annotations, features_dir, fps, check_values, feature_dim, on_error, demo,
features, videos_dir)` is then the constructor's signature, as `inspect.signature` (config
validation, `videollm schema`) reads it.
"""
from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable

from videollm_core.base import DataErrors

from .features import FeatureStore, demo_features_dir


@dataclass(frozen=True)
class SourceArgs:
    """Where a dataset's features come from and how it treats bad data.

    A dataset takes exactly one of `features_dir`, `features` and `videos_dir` (or none
    when it has a default, e.g. its demo data).

    Args:
        features_dir: `<features_dir>/<video_id>.npy`, `[T, Df]` float (the short form of
            `features: {type: NpyFeatures, dir: DIR}`).
        check_values: scan the features for NaN/Inf when the dataset is built (once per video).
        feature_dim: expected `Df` (supplied by the runner: the encoder's `in_dim`).
        on_error: `"raise"` a [`DataError`][videollm_core.errors.DataError] naming file and row, or
            `"skip"` the video or sample: `self.errors` ([`DataErrors`][videollm_core.data.DataErrors])
            records it, and [`skip_report`][videollm_core.data.VideoDataset.skip_report] hands it to
            the runner, which logs it.
        demo: demo-data parameters (the task's `demo.DEFAULTS`), e.g. `{num_videos: 24, seed: 0}`:
            the demo data is generated once and the dataset's paths default to it.
        features: instead of `features_dir`, any feature source `{type: ..., ...}` (see
            `videollm list features`), its `fps` defaulting to the dataset's step rate.
        videos_dir: instead of `features_dir`, a folder of video files named by video id, decoded
            into pixels (`VideoFrames`) for a model whose encoder is `FrameEncoder`.
    """

    features_dir: str | None = None
    check_values: bool = True
    feature_dim: int | None = None
    on_error: str = "raise"
    demo: dict[str, Any] | None = None
    features: dict[str, Any] | None = None
    videos_dir: str | None = None

    def with_default_features(self, folder: str | Path) -> SourceArgs:
        """These arguments with `features_dir = folder` when none of `features_dir`, `features`
        and `videos_dir` is given (the demo data's or the dataset root's feature folder)."""
        return replace(self, features_dir=demo_features_dir(self.features_dir, self.features, self.videos_dir, Path(folder)))

    def store(self, *, fps: float | None, where: str, channels_first: bool = False) -> FeatureStore:
        """The `FeatureStore` (`videollm_plugins.tasks.common.features`) of the feature
        arguments (exactly one given), checking `feature_dim` and (`check_values`) NaN/Inf.

        Args:
            fps: the dataset's feature steps per second.
            where: the dataset's name, for config errors.
            channels_first: `features_dir` files are `[Df, T]` (MS-TCN).
        """
        return FeatureStore.from_args(self.features_dir, self.features, self.videos_dir, feature_dim=self.feature_dim, fps=fps,
                                      where=where, check_values=self.check_values, channels_first=channels_first)

    def data_errors(self, owner: str) -> DataErrors:
        """The `on_error` policy of dataset `owner` (its `self.errors`)."""
        return DataErrors(self.on_error, where=f"{owner}.on_error")

    def kwargs(self, *, omit: tuple[str, ...] = ()) -> dict[str, Any]:
        """The arguments as keywords (but `omit`), to hand them on to another constructor
        (`super().__init__(..., **source.kwargs())`)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in omit}


#: the fields' types as objects (this module's annotations are strings).
_TYPES: dict[str, Any] = typing.get_type_hints(SourceArgs)
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _shared_parameters(omit: tuple[str, ...]) -> list[inspect.Parameter]:
    unknown = set(omit) - {f.name for f in fields(SourceArgs)}
    if unknown:
        raise TypeError(f"with_source_args: {sorted(unknown)} are not SourceArgs fields")
    return [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default, annotation=_TYPES[f.name])
            for f in fields(SourceArgs) if f.name not in omit]


def with_source_args(*, after: str | None = None, omit: tuple[str, ...] = ()) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a dataset's `__init__(self, ..., *, source: SourceArgs)` the `SourceArgs` arguments.

    The constructor accepts them (positionally too, at the places below) beside its own
    arguments; the wrapper packs them into one `SourceArgs` (defaults for those not given)
    and calls the decorated `__init__` with `source=`. Its `__signature__` and
    `__annotations__` (real types) list the dataset's own parameters and the shared ones, in
    this order: the own positional ones with `features_dir` right after `after` (at the head
    of the shared ones when `None`), then `check_values, feature_dim, on_error, demo, features,
    videos_dir`, then the own keyword-only ones; `source` is not listed.

    Args:
        after: the own parameter that `features_dir` follows.
        omit: shared arguments the dataset does not take (they keep `SourceArgs`' defaults).
    """

    def decorate(init: Callable[..., None]) -> Callable[..., None]:
        params = [p for p in inspect.signature(init).parameters.values() if p.name != "source"]
        shared = _shared_parameters(omit)
        names = {p.name for p in shared}
        clash = names & {p.name for p in params}
        if clash:
            raise TypeError(f"{init.__qualname__} declares shared argument(s) {sorted(clash)}: take them from `source`")
        positional = [p for p in params if p.kind in _POSITIONAL]
        rest = [p for p in params if p.kind not in _POSITIONAL]
        head = [p for p in shared if p.name == "features_dir" and after is not None]
        if head:
            at = [p.name for p in positional].index(after) + 1  # ValueError: `after` is not a positional parameter
            positional[at:at] = head
        tail = [p for p in shared if p not in head]
        signature = inspect.Signature(positional + tail + rest, return_annotation=inspect.signature(init).return_annotation)

        @functools.wraps(init)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as e:  # as Python words it for a plain __init__
                raise TypeError(f"{init.__qualname__}() {e}") from None
            source = SourceArgs(**{name: bound.arguments.pop(name) for name in names if name in bound.arguments})
            init(*bound.args, **bound.kwargs, source=source)

        annotations = {k: v for k, v in getattr(init, "__annotations__", {}).items() if k not in ("source", "return")}
        annotations.update({p.name: p.annotation for p in shared})
        if "return" in getattr(init, "__annotations__", {}):
            annotations["return"] = init.__annotations__["return"]
        wrapper.__signature__ = signature  # type: ignore[attr-defined]
        wrapper.__annotations__ = annotations
        return wrapper

    return decorate


__all__ = ["SourceArgs", "with_source_args"]
