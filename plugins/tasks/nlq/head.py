"""`NaturalLanguageQueryHead`: the shared boundary head (`MomentBoundaryHead`:
start / end / inside scores per visual unit, query fusion) with NLQ's prediction entries
(ranked windows per query, keyed as the Ego4D NLQ submission). While streaming, the newest unit
answers the best windows so far (`stream_answer`).
"""
from __future__ import annotations

from typing import Any, ClassVar

from videollm_core.types import VideoBatch

from ..common.moment_heads import MomentBoundaryHead


class NaturalLanguageQueryHead(MomentBoundaryHead):
    """Boundary scoring head for natural-language grounding (arguments: `MomentBoundaryHead`)."""

    task: ClassVar[str] = "nlq"

    def predict(self, outputs: dict[str, Any], batch: VideoBatch) -> list[dict[str, Any]]:
        """One entry per query: `{"video_id", "annotation_uid", "query_idx", "windows": [[s, e], ...]}` ranked."""
        return [
            {"video_id": meta["video_id"], "annotation_uid": meta["annotation_uid"], "query_idx": meta["query_idx"],
             "windows": [[s, e] for s, e, _ in ranked]}
            for meta, ranked in zip(batch.meta, self.ranked_windows(outputs, batch))
        ]
