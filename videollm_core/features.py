"""The `features` role: where a dataset's per-video feature arrays come from.

A [`FeatureSource`][videollm_core.data.FeatureSource] reads one video's features as `[T, Df]` float32 (`T` steps
at `FeatureSource.fps` steps per second) from the layout a benchmark releases
(`.npy` folders, `.npz`, one HDF5 file, an LMDB of per-frame vectors, Ego4D `.pt`...).
The built-ins live in the plugin `videollm_plugins.features`; a dataset's
`features: {type: NAME, ...}` entry is built with `build_feature_source`, its
`fps` filled with the dataset's own step rate when the entry leaves it out.

`features_from_path` turns a bare path into a source by asking each registered
class whether it reads that path ([`FeatureSource.claims`][videollm_core.data.FeatureSource.claims]), for commands that take
`--features PATH`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .base import Encoder
from .data import FeatureSource
from .errors import ConfigError, DataError


def build_feature_source(cfg: Mapping[str, Any] | str | Path | FeatureSource, *, fps: float | None = None,
                         where: str = "features", registries: Any = None) -> FeatureSource:
    """Build a source from `{type: NAME, ...}` (or a path, see `features_from_path`).

    Args:
        cfg: the `features:` entry, a path, or an already built source (returned as is).
        fps: steps per second used when `cfg` has no `fps` (a dataset's step rate).
        where: the YAML path of the entry, for error messages.
        registries: defaults to the process-wide registries.

    Raises:
        ConfigError: unknown `type` (with suggestions), bad or missing arguments.
    """
    if isinstance(cfg, FeatureSource):
        return cfg
    if isinstance(cfg, (str, Path)):
        return features_from_path(cfg, fps=fps, registries=registries)
    if registries is None:
        from .plugins import REGISTRIES as registries
    defaults = {"fps": float(fps)} if fps is not None else None
    return registries.features.build(dict(cfg), where=where, default_args=defaults)


def features_from_path(path: str | Path, *, fps: float | None = None, registries: Any = None) -> FeatureSource:
    """A source for a bare path: the first registered class whose [`FeatureSource.claims`][videollm_core.data.FeatureSource.claims] accepts it.

    E.g. a folder of `.npy` -> `NpyFeatures`, an `.h5` file -> `HDF5Features`, an LMDB
    folder -> `LMDBFeatures`. `fps` is required by the sources that need it.

    Raises:
        DataError: the path does not exist, or no registered source reads it.
    """
    if registries is None:
        from .plugins import REGISTRIES as registries
    path = Path(path)
    if not path.exists():
        raise DataError("features path not found", where=str(path), hint="give a folder of per-video files or a feature file")
    reg = registries.features
    for name in reg.names():
        args = reg.get(name).claims(path)
        if args is not None:
            return build_feature_source({"type": name, **args}, fps=fps, where=str(path), registries=registries)
    raise DataError("no feature source reads this path", where=str(path),
                    hint=f"give a features: {{type: ...}} config; sources: {', '.join(reg.names()) or '(none)'}")


def expected_feature_dim(cfg: Mapping[str, Any], registries: Any = None, spec: Any = None) -> int | None:
    """`Df` the datasets of a config must supply: the encoder class answers ([`Encoder.input_dim`][videollm_core.base.Encoder.input_dim]).

    `spec`: the `TaskSpec` whose datasets are meant (a task may
    have its own encoder); `None`: the model's encoder. `None` is returned when the encoder
    reads pixels or video files, or its type is unknown (validation reports that).
    """
    if registries is None:
        from .plugins import REGISTRIES as registries
    if spec is not None:
        enc = spec.encoder_config(cfg)
    else:
        enc = (cfg.get("model") or {}).get("encoder") if isinstance(cfg.get("model"), Mapping) else None
    if not isinstance(enc, Mapping):
        return None
    cls = registries.encoders.get(enc.get("type"))
    return cls.input_dim({k: v for k, v in enc.items() if k != "type"}) if cls is not None and issubclass(cls, Encoder) else None


def require_fps(fps: Any, where: str, *, optional: bool = False) -> float | None:
    """`fps` as a positive float, else [`ConfigError`][videollm_core.errors.ConfigError] at `where`.

    `optional`: `None` is accepted (returned) for layouts whose arrays do not depend on
    the step rate (the dataset then knows its timing, e.g. ActivityNet's `duration / T`).
    """
    if fps is None and optional:
        return None
    if fps is None or isinstance(fps, bool) or not isinstance(fps, (int, float)) or fps <= 0:
        raise ConfigError(f"fps must be a positive number of feature steps per second, got {fps!r}", where=f"{where}.fps",
                          hint="set fps, or leave it out inside a dataset's features: entry to use the dataset's step rate")
    return float(fps)


__all__ = ["FeatureSource", "build_feature_source", "features_from_path", "expected_feature_dim", "require_fps"]
