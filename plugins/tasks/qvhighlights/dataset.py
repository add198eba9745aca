"""`QVHighlightsDataset`: the official QVHighlights jsonl files, one sample per query.

Sample: `features [T, Df]` of the video (`<vid>.npy`, one feature per 2-s clip by
default: `fps: 1, feature_stride: 2`), `timestamps [T, 2]` s, `query`,
`targets = {"windows": [[st, ed], ...] (s, plain list), "saliency": [T] float}` (the
annotators' mean saliency / 4 on the relevant clips, 0 elsewhere), `meta = {"video_id"
(= vid), "qid", "query", "duration"}`.

Known quirks: video ids may start with `-` (YouTube ids; 15 in val); the test release
has no `relevant_windows`/`saliency_scores` (samples then carry empty targets and
`ground_truth` rows without them); features may hold one clip more or less than
`int(duration / 2)` (the metric truncates or pads the saliency scores).
"""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from videollm_core.errors import DataError

from ..common.localization import LocalizationDataset
from ..common.source_args import SourceArgs, with_source_args
from . import demo as demo_data
from .formats import CLIP_LENGTH_S, read_jsonl


class QVHighlightsDataset(LocalizationDataset):
    """QVHighlights moment retrieval + highlight detection.

    Args:
        annotation_file: `highlight_{train,val}_release.jsonl` (`.gz` ok) or
            `highlight_test_with_gt.jsonl`; default: the demo file of `split`.
        split: `"train"` or `"val"` (picks the demo file).
        fps, feature_stride, feature_window: feature timing (default 2-s clips).
        features_dir, features, videos_dir, check_values, feature_dim, on_error, demo: the shared
            data-source arguments ([`SourceArgs`][videollm_plugins.tasks.common.source_args.SourceArgs]);
            `features_dir` holds `<vid>.npy`.
    """

    task: ClassVar[str] = "qvhighlights"

    @with_source_args(after="annotation_file")
    def __init__(
        self,
        annotation_file: str | None = None,
        split: str = "train",
        fps: float = 1.0,
        feature_stride: float = CLIP_LENGTH_S,
        feature_window: float | None = None,
        *,
        source: SourceArgs,
    ) -> None:
        if source.demo is not None:
            root, _ = self.demo_data(demo_data, source.demo, source.feature_dim)
            annotation_file = annotation_file or str(root / f"highlight_{'val' if split in ('val', 'test') else 'train'}_release.jsonl")
            source = source.with_default_features(root / "features")
            fps, feature_stride, feature_window = 1.0, CLIP_LENGTH_S, None
        self.require(annotation_file=annotation_file)
        self._setup(source, fps, feature_stride, feature_window)
        self.annotation_file, self.split = Path(annotation_file), split
        self.rows: list[dict[str, Any]] = []
        for n, row in enumerate(read_jsonl(self.annotation_file), 1):
            got = self.attempt(partial(self._check, row, f"{self.annotation_file}:{n}"))
            if got is not None:
                self.rows.append(got)
        self.report_skipped("queries")
        if not self.rows:
            raise DataError("no usable query", where=str(self.annotation_file), hint="check the annotation file and features_dir")

    def _check(self, row: dict[str, Any], where: str) -> dict[str, Any]:
        missing = {"qid", "query", "duration", "vid"} - set(row)
        if missing:
            raise DataError(f"missing fields {sorted(missing)}", where=where, hint="rows need qid, query, duration, vid")
        self.features_of(str(row["vid"]), where)
        row = dict(row, where=where)
        if "relevant_windows" in row:
            row["relevant_windows"] = [self.check_segment(w, float(row["duration"]), f"{where}: relevant_windows[{i}]")
                                       for i, w in enumerate(row["relevant_windows"])]
            ids, scores = row.get("relevant_clip_ids", []), row.get("saliency_scores", [])
            if len(ids) != len(scores) or any(len(s) != 3 for s in scores):
                raise DataError(f"{len(ids)} relevant_clip_ids but {len(scores)} saliency_scores (3 annotators each)", where=where)
            if ids and (min(ids) < 0 or max(ids) >= int(float(row["duration"]) / CLIP_LENGTH_S)):
                raise DataError(f"relevant_clip_ids {min(ids)}..{max(ids)} outside the video's {int(float(row['duration']) / 2)} clips", where=where)
        return row

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        sample = self.sample(str(row["vid"]), row["where"], float(row["duration"]))
        num_steps = sample["features"].shape[0]
        saliency = np.zeros(num_steps, dtype=np.float32)
        starts = sample["timestamps"][:, 0]
        for cid, s in zip(row.get("relevant_clip_ids", []), row.get("saliency_scores", [])):
            saliency[(starts >= cid * CLIP_LENGTH_S - 1e-6) & (starts < (cid + 1) * CLIP_LENGTH_S - 1e-6)] = float(np.mean(s)) / 4.0
        sample["query"] = str(row["query"])
        sample["targets"] = {"windows": [list(w) for w in row.get("relevant_windows", [])], "saliency": saliency}
        sample["meta"].update(qid=row["qid"], query=str(row["query"]))
        return sample

    def ground_truth(self) -> list[dict[str, Any]]:
        """The loaded rows in the official jsonl form (what `QVHighlightsMetric` evaluates)."""
        return [{k: v for k, v in row.items() if k != "where"} for row in self.rows]
