"""`Ego4DNarrationDataset`: online narration of egocentric video (Ego4D narration schema).

One sample per narration at time `t`: the feature steps observed in
`[t - window_before, t + window_after]` seconds (the stream is captioned as soon as
it reaches `t + window_after`), timestamps `[L, 2]` seconds,
`targets["caption"]` the narration text, `meta["narration_id"]`.
"""
from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any, ClassVar


from videollm_core.base import VideoDataset
from videollm_core.errors import ConfigError, DataError

from ..common.source_args import SourceArgs, with_source_args
from . import demo as demo_data
from . import formats


class Ego4DNarrationDataset(VideoDataset):
    """Ego4D narrations as online captioning samples.

    Args:
        annotations: `narration.json` (default with `demo`: the demo file).
        videos: file with the video uids of this split, one per line (default with
            `demo`: `<split>_videos.txt`; otherwise all videos).
        split: `train` or `val` (demo file choice).
        fps: feature steps per second (step `i` covers `[i/fps, (i+1)/fps)`).
        window_before, window_after: seconds observed before / after the narration time.
        passes: narration passes to use. skip_unsure: drop `#unsure` narrations.
        strip_tags: drop the leading `#C`/`#O` actor tag of each text.
        features_dir, features, videos_dir, feature_dim, on_error, demo: the shared data-source
            arguments ([`SourceArgs`][videollm_plugins.tasks.common.source_args.SourceArgs]);
            `features_dir` holds `<video_uid>.npy` (default with `demo`: `features/`).
    """

    task: ClassVar[str] = "online_caption"
    provides_head_args: ClassVar[tuple[str, ...]] = ()
    annotations_arg: ClassVar[str | None] = "annotations"

    @with_source_args(after="annotations", omit=("check_values",))
    def __init__(self, annotations: str | None = None, videos: str | None = None, split: str = "val", fps: float = 30 / 16,
                 window_before: float = 2.0, window_after: float = 1.0,
                 passes: tuple[str, ...] | list[str] = ("narration_pass_1",), skip_unsure: bool = True,
                 strip_tags: bool = True, *, source: SourceArgs) -> None:
        self.errors = source.data_errors("Ego4DNarrationDataset")
        if fps <= 0 or window_before < 0 or window_after < 0 or window_before + window_after <= 0:
            raise ConfigError("need fps > 0 and a window of positive length", where="Ego4DNarrationDataset")
        bad = [p for p in passes if p not in formats.PASSES]
        if bad:
            raise ConfigError(f"unknown narration pass(es) {bad}", where="Ego4DNarrationDataset.passes", hint=f"use {list(formats.PASSES)}")
        if source.demo is not None:
            from videollm_plugins.demo import ensure_demo_data

            params = demo_data.demo_params(source.demo, source.feature_dim)
            root = ensure_demo_data("online_caption", partial(demo_data.generate, params=params), params)
            annotations = annotations or str(root / "narration.json")
            source = source.with_default_features(root / "features")
            videos = videos or str(root / f"{split}_videos.txt")
            fps = float(params["fps"])
        if annotations is None:
            raise ConfigError("annotations and features_dir are required without demo", where="Ego4DNarrationDataset",
                              hint="set annotations: .../narration.json and features_dir: ..., or demo: {num_videos: 12}")
        self.annotations, self.videos_file = Path(annotations), videos
        self.fps, self.before, self.after = float(fps), float(window_before), float(window_after)
        self.passes, self.skip_unsure, self.strip_tags = tuple(passes), bool(skip_unsure), bool(strip_tags)
        self.feature_dim = source.feature_dim
        vids = formats.read_video_list(videos) if videos else None
        items = formats.read_narrations(self.annotations, self.passes, vids, self.skip_unsure, self.errors, self.strip_tags)
        self.features = source.store(fps=self.fps, where="Ego4DNarrationDataset")
        self.items = [n for n in items if self._check(n)]

    def _check(self, n: formats.Narration) -> bool:
        try:
            feats = self.features(n.video_uid)
            if n.time * self.fps >= feats.shape[0]:
                raise DataError(f"narration at {n.time:.2f} s is after the features end ({feats.shape[0] / self.fps:.2f} s)",
                                where=f"{self.annotations} ({n.narration_id})", hint="check fps and the feature files")
        except DataError as e:
            self.errors.handle(e)
            return False
        return True

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = self.items[index]
        feats = self.features(n.video_uid)
        first = max(0, int(math.floor((n.time - self.before) * self.fps)))
        last = min(feats.shape[0], max(first + 1, int(math.floor((n.time + self.after) * self.fps + 1e-6))))
        x, ts = self.features.window(n.video_uid, first, last)
        return {"features": x, "timestamps": ts, "query": None, "targets": {"caption": n.text},
                "meta": {"video_id": n.video_uid, "narration_id": n.narration_id, "timestamp_sec": n.time, "fps": self.fps}}

    def settings(self) -> dict[str, Any]:
        """Step rate, the seconds read around each narration and the narration passes, for
        `videollm predict --annotations` (every video of the file: give a file of the split's videos)."""
        return {"fps": self.fps, "window_before": self.before, "window_after": self.after, "passes": list(self.passes),
                "skip_unsure": self.skip_unsure, "strip_tags": self.strip_tags}

    def ground_truth(self) -> dict[str, list[str]]:
        return {n.narration_id: [n.text] for n in self.items}

    def metric_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"passes": list(self.passes), "skip_unsure": self.skip_unsure, "strip_tags": self.strip_tags}
        if self.videos_file:
            args["videos"] = str(self.videos_file)
        return args


__all__ = ["Ego4DNarrationDataset"]
