"""`ConcatFeatures`: several feature streams side by side on one time grid.

Alignment as the reference loaders do it: Moment-DETR's QVHighlights loader
(`jayleicn/moment_detr` `moment_detr/start_end_dataset.py` `_get_video_feat_by_vid`)
L2-normalises each stream (`x / (||x|| + 1e-5)` per step), truncates every stream to the
shortest one ("some features are slightly longer than the others") and concatenates
along the feature axis (SlowFast 2304 + CLIP 512); PDVC's ActivityNet `resnet` 2048 +
`bn` 1024 are concatenated the same way, without normalisation.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from videollm_core.errors import ConfigError, DataError
from videollm_core.features import FeatureSource, build_feature_source

from .arrays import l2_normalize


class ConcatFeatures(FeatureSource):
    """`[T, D1 + D2 + ...]`: the sources' features, truncated to the shortest, concatenated.

    Args:
        sources: two or more `{type: ..., ...}` source configs (their `fps` defaults to this one's).
        fps: steps per second of the shared grid (left out in a dataset's `features:`: the dataset's rate).
        l2_normalize: divide each stream's rows by their L2 norm (+1e-5) first (Moment-DETR).
    """

    def __init__(self, sources: list[dict[str, Any]], fps: float | None = None, l2_normalize: bool = False):
        if not isinstance(sources, list) or len(sources) < 2:
            raise ConfigError(f"sources must be a list of two or more feature source configs, got {sources!r}",
                              where="ConcatFeatures.sources", hint="sources: [{type: NpzFeatures, dir: ...}, {type: NpzFeatures, dir: ...}]")
        self.sources = [build_feature_source(cfg, fps=fps, where=f"ConcatFeatures.sources.{i}") for i, cfg in enumerate(sources)]
        self.fps = float(fps) if fps is not None else self.sources[0].fps
        self.l2_normalize = bool(l2_normalize)

    @property
    def where(self) -> str:
        return " + ".join(s.where for s in self.sources)

    def read(self, video_id: str) -> np.ndarray:
        return self._join([s.read(video_id) for s in self.sources])

    def read_clip(self, clip_id: str, video_id: str, start_sec: float, end_sec: float) -> np.ndarray:
        return self._join([s.read_clip(clip_id, video_id, start_sec, end_sec) for s in self.sources])

    def _join(self, streams: list[np.ndarray]) -> np.ndarray:
        if self.l2_normalize:
            streams = [l2_normalize(x) for x in streams]
        length = min(x.shape[0] for x in streams)
        return np.concatenate([np.asarray(x[:length], dtype=np.float32) for x in streams], axis=1)

    def video_ids(self) -> list[str]:
        ids = set(self.sources[0].video_ids())
        for s in self.sources[1:]:
            ids &= set(s.video_ids())
        if not ids:
            raise DataError("the sources share no video id", where=self.where)
        return sorted(ids)


__all__ = ["ConcatFeatures"]
