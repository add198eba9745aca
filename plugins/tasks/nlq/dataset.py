"""Natural-language-query datasets: Ego4D NLQ and Charades-STA.

One sample per query: `features [T, Df]` of its clip/video, `timestamps [T, 2]` s,
`query` (the sentence; the pipeline puts its tokens before the visual tokens),
`targets = {"windows": [[s, e]]}` (seconds, a plain list), `meta = {"video_id",
"annotation_uid", "query_idx", "duration", "fps"}` (the NLQ prediction key).
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Sequence

from videollm_core.errors import ConfigError, DataError

from ..common.localization import LocalizationDataset
from ..common.source_args import SourceArgs, with_source_args
from . import demo as demo_data
from .formats import QueryKey, load_charades_sta, load_ego4d_nlq, read_charades_durations


class Ego4DNLQDataset(LocalizationDataset):
    """Ego4D episodic-memory NLQ (`nlq_{train,val}.json`), features per clip (`<clip_uid>.npy`).

    Args:
        annotation_file: the official JSON; default: the demo's `nlq_<split>.json`.
        split: `"train"` or `"val"` (picks the demo file; real files are one split each).
        fps, feature_stride, feature_window: feature timing.
        features_dir, features, videos_dir, check_values, feature_dim, on_error, demo: the shared
            data-source arguments ([`SourceArgs`][videollm_plugins.tasks.common.source_args.SourceArgs]);
            `features_dir` holds `<clip_uid>.npy` (Ego4D SlowFast: `fps: 30, feature_stride: 16,
            feature_window: 32`). The released per-video features: `features: {type: TorchFeatures,
            dir: .../<video_uid>.pt}`; each clip's steps are cut out of its video by
            `video_start_sec`/`video_end_sec` as Ego4D's `prepare_ego4d_dataset.py` does.
    """

    task: ClassVar[str] = "nlq"

    @with_source_args(after="annotation_file")
    def __init__(
        self,
        annotation_file: str | None = None,
        split: str = "train",
        fps: float = 30.0,
        feature_stride: float = 16,
        feature_window: float | None = 32,
        *,
        source: SourceArgs,
    ) -> None:
        if source.demo is not None:
            root, params = self.demo_data(demo_data, source.demo, source.feature_dim)
            annotation_file = annotation_file or str(root / f"nlq_{'val' if split in ('val', 'test') else 'train'}.json")
            source = source.with_default_features(root / "features")
            fps, feature_stride, feature_window = float(params["fps"]), float(params["feature_stride"]), None
        self.require(annotation_file=annotation_file)
        self._setup(source, fps, feature_stride, feature_window)
        self.annotation_file, self.split = Path(annotation_file), split
        self.queries: list[dict[str, Any]] = []
        for rec in self.read_records():
            got = self.attempt(partial(self._check, rec))
            if got is not None:
                self.queries.append(got)
        self.report_skipped("queries")
        if not self.queries:
            raise DataError("no usable query", where=str(self.annotation_file), hint="check the annotation file and features_dir")

    def read_records(self) -> list[dict[str, Any]]:
        return load_ego4d_nlq(self.annotation_file)

    def _check(self, rec: dict[str, Any]) -> dict[str, Any]:
        self.features_of(rec["video_id"], rec["where"], rec.get("clip"))
        rec = dict(rec)
        rec["window"] = self.check_segment(rec["window"], rec["duration"], rec["where"])
        return rec

    def __len__(self) -> int:
        return len(self.queries)

    def __getitem__(self, index: int) -> dict[str, Any]:
        q = self.queries[index]
        sample = self.sample(q["video_id"], q["where"], q["duration"], q.get("clip"))
        sample["query"] = q["query"]
        sample["targets"] = {"windows": [list(q["window"])]}
        sample["meta"].update(annotation_uid=q["key"][1], query_idx=q["key"][2])
        return sample

    def ground_truth(self) -> dict[QueryKey, dict[str, Any]]:
        """`{(clip_uid, annotation_uid, query_idx): record}` of the loaded queries (what the metric evaluates)."""
        return {q["key"]: q for q in self.queries}


class CharadesSTADataset(Ego4DNLQDataset):
    """Charades-STA (2D-TAN's `charades_sta_{train,test}.txt`), features per video (`<id>.npy`).

    Not built by `videollm predict --annotations`: the durations come from the Charades
    metadata csv files, a second input.

    Args:
        annotation_file: `charades_sta_{train,test}.txt`.
        metadata_files: Charades' `Charades_v1_{train,test}.csv` (`.gz` ok), for durations.
        split, fps, feature_stride, feature_window: as `Ego4DNLQDataset`
            (e.g. I3D at `fps: 24, feature_stride: 8`).
        clip_to_duration: the known quirk: ~15 % of windows end after the video; True
            clips them to the duration (as 2D-TAN), counted in `clipped`; False
            treats them as errors.
        features_dir, features, videos_dir, check_values, feature_dim, on_error: the shared
            data-source arguments ([`SourceArgs`][videollm_plugins.tasks.common.source_args.SourceArgs]);
            no `demo`.
    """

    annotations_arg: ClassVar[str | None] = None

    @with_source_args(after="metadata_files", omit=("demo",))
    def __init__(
        self,
        annotation_file: str | None = None,
        metadata_files: Sequence[str] = (),
        split: str = "train",
        fps: float = 24.0,
        feature_stride: float = 8,
        feature_window: float | None = None,
        clip_to_duration: bool = True,
        *,
        source: SourceArgs,
    ) -> None:
        if annotation_file is None or not metadata_files:
            raise ConfigError("CharadesSTADataset needs annotation_file and metadata_files", where="CharadesSTADataset",
                              hint="e.g. charades_sta_test.txt and [Charades_v1_test.csv]")
        self.durations = read_charades_durations(*([metadata_files] if isinstance(metadata_files, str) else metadata_files))
        self.clip_to_duration, self.clipped = bool(clip_to_duration), 0
        super().__init__(annotation_file, split=split, fps=fps, feature_stride=feature_stride, feature_window=feature_window,
                         **source.kwargs(omit=("demo",)))

    def read_records(self) -> list[dict[str, Any]]:
        return load_charades_sta(self.annotation_file, self.durations)

    def _check(self, rec: dict[str, Any]) -> dict[str, Any]:
        if rec["duration"] is None:
            raise DataError(f"video {rec['video_id']} is not in the Charades metadata", where=rec["where"], hint="pass the matching Charades_v1_*.csv")
        if self.clip_to_duration and rec["window"][1] > rec["duration"] >= rec["window"][0]:
            rec = dict(rec, window=[rec["window"][0], rec["duration"]])
            self.clipped += 1
        return super()._check(rec)
