"""QVHighlights picture: GT windows vs top predicted windows, and saliency over time."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..common.plots import plot_score_curves
from .metric import CLIP_LENGTH_S, hd_label_matrix


def plot_qvhighlights(predictions: list[dict[str, Any]], ground_truth: list[dict[str, Any]], path: str | Path, max_videos: int = 3) -> bool:
    """One panel per query: predicted saliency and mean GT saliency / 4 per 2-s clip, GT windows
    shaded ("GT"), the top predicted window shaded ("pred #1")."""
    preds = {p["qid"]: p for p in predictions}
    panels = []
    for gt in ground_truth:
        p = preds.get(gt["qid"])
        if p is None or "relevant_windows" not in gt:
            continue
        labels = hd_label_matrix(gt).mean(1) / 4.0
        scores = np.asarray(p.get("pred_saliency_scores") or [], dtype=np.float64)[: len(labels)]
        times = (np.arange(len(labels)) + 0.5) * CLIP_LENGTH_S
        truth = [(w[0], w[1], "GT") for w in gt["relevant_windows"]]
        truth += [(w[0], w[1], "pred #1") for w in (p.get("pred_relevant_windows") or [])[:1]]
        panels.append({"video_id": f"{gt['vid']}: {str(gt['query'])[:60]}", "times": times[: len(scores)],
                       "curves": {"predicted saliency": scores, "GT saliency / 4": labels[: len(scores)]}, "truth": truth})
        if len(panels) >= max_videos:
            break
    if not panels:
        return False
    plot_score_curves(panels, path, title="QVHighlights: windows and clip saliency")
    return True
