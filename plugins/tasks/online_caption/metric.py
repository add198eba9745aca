"""Online captioning metric: coco-caption BLEU@4, METEOR, ROUGE_L, CIDEr(-D) (METRICS.md §2.11).

Ground truth: Ego4D `narration.json` (one reference per narration: its own text).
Predictions: one caption per narration, named as the ground truth names it (both files: `formats`).

Every ground-truth narration needs a caption (a missing one is an error; an empty
caption is allowed and scores 0). Values are coco-caption's x100 (as densevid_eval
prints them). Without Java, METEOR is NaN with a warning (never faked).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

from videollm_core.base import Metric
from videollm_core.errors import DataError

from ..common.captioning import score_captions
from . import formats


class OnlineCaptionMetric(Metric):
    """coco-caption scores of one caption per narration.

    Args:
        passes: narration passes used as ground truth by `load_ground_truth`.
        videos: optional video-uid list file restricting the ground truth (a split).
        skip_unsure: leave out `#unsure` narrations (as the dataset does).
        strip_tags: drop the leading `#C`/`#O` actor tag from references (as the dataset does).
    """

    task: ClassVar[str] = "online_caption"
    keys: ClassVar[tuple[str, ...]] = ("BLEU@4", "METEOR", "ROUGE_L", "CIDEr")
    primary_key: ClassVar[str] = "CIDEr"
    higher_is_better: ClassVar[bool] = True
    prediction_suffix: ClassVar[str] = ".json"

    def __init__(self, passes: tuple[str, ...] | list[str] = ("narration_pass_1",), videos: str | None = None, skip_unsure: bool = True,
                 strip_tags: bool = True) -> None:
        super().__init__()
        self.passes, self.videos, self.skip_unsure, self.strip_tags = tuple(passes), videos, bool(skip_unsure), bool(strip_tags)

    def load_ground_truth(self, path: str | Path) -> dict[str, list[str]]:
        """`narration.json` -> `{narration_id: [reference text]}`."""
        vids = formats.read_video_list(self.videos) if self.videos else None
        return {n.narration_id: [n.text] for n in formats.read_narrations(path, self.passes, vids, self.skip_unsure,
                                                                            strip_tags=self.strip_tags)}

    def load_predictions(self, path: str | Path) -> dict[str, Any]:
        return formats.read_submission(path)

    def format_predictions(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        return formats.format_submission(entries)

    def evaluate(self, predictions: dict[str, Any], ground_truth: dict[str, list[str]]) -> dict[str, float]:
        # entries checked by formats.read_submission (strings, one per narration)
        captions = {str(r["narration_id"]): str(r["caption"]) for r in predictions.get("results", [])}
        missing = [k for k in ground_truth if k not in captions]
        if missing:
            raise DataError(f"{len(missing)} of {len(ground_truth)} narrations have no caption (first: {missing[:3]})",
                            where="predictions.results", hint="caption every narration of the ground truth")
        scores = score_captions({k: captions[k] for k in ground_truth}, ground_truth, self.keys)
        return {k: 100.0 * scores[k] if k in scores else math.nan for k in self.keys}


__all__ = ["OnlineCaptionMetric"]
