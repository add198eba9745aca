"""``dense_caption`` metric: densevid_eval (2018 variant) + SODA_c on ActivityNet Captions.

Ground truth: one or several reference files (``val_1.json,val_2.json``, comma-separated
on the command line), a list of ``{video_id: {duration, timestamps, sentences}}``.
Predictions: the densevid submission (:mod:`.annotations`).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar, Sequence

from videollm_core.base import Metric
from videollm_core.errors import ConfigError, DataError

from . import annotations as ann
from .densevid import DEFAULT_TIOUS, densevid_scores
from .meteor import shared_meteor
from .soda import soda_c

log = logging.getLogger("videollm")


class DenseCaptionMetric(Metric):
    """METEOR, BLEU@4, CIDEr (averaged over ``tious``), localisation Recall/Precision and SODA_c, x100.

    Args:
        tious: tIoU thresholds (densevid: 0.3, 0.5, 0.7, 0.9).
        max_proposals: predictions kept per video, as listed (densevid's ``max_proposals_per_video``).
        soda: compute SODA_c (one METEOR call per video; ``False`` reports NaN).
    """

    task: ClassVar[str] = "dense_caption"
    keys: ClassVar[tuple[str, ...]] = ("METEOR", "BLEU@4", "CIDEr", "Recall", "Precision", "SODA_c")
    primary_key: ClassVar[str] = "METEOR"
    higher_is_better: ClassVar[bool] = True
    prediction_suffix: ClassVar[str] = ".json"

    def __init__(self, tious: Sequence[float] = DEFAULT_TIOUS, max_proposals: int = 1000, soda: bool = True):
        super().__init__()
        self.tious = [float(t) for t in tious]
        if not self.tious or not all(0.0 <= t <= 1.0 for t in self.tious):
            raise ConfigError(f"tious must be thresholds in [0, 1], got {list(tious)}", where="metric.tious")
        if int(max_proposals) < 1:
            raise ConfigError(f"max_proposals must be >= 1, got {max_proposals}", where="metric.max_proposals")
        self.max_proposals = int(max_proposals)
        self.soda = bool(soda)

    # -- official files -------------------------------------------------
    def load_ground_truth(self, path: str | Path | list) -> list[ann.References]:
        """Reference file(s): a path, ``"a.json,b.json"`` or a list; ``.json.gz`` accepted."""
        paths = ann.split_paths(path)
        if not paths:
            raise DataError("no reference file given", where=str(path), hint="e.g. val_1.json,val_2.json")
        return [ann.read_references(p) for p in paths]

    def load_predictions(self, path: str | Path) -> dict[str, list[dict[str, Any]]]:
        return ann.read_submission(path)

    def save_predictions(self, predictions: dict[str, list[dict[str, Any]]], path: str | Path) -> None:
        ann.write_submission(predictions, path)

    def format_predictions(self, entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """Head entries ``{"video_id", "events": [{"timestamp", "sentence", "score"}]}`` -> ``results``."""
        return {
            str(e["video_id"]): [{"timestamp": [float(x["timestamp"][0]), float(x["timestamp"][1])], "sentence": str(x["sentence"])} for x in e["events"]]
            for e in entries
        }

    # -- evaluation -------------------------------------------------------
    def evaluate(self, predictions: dict[str, list[dict[str, Any]]], ground_truth: list[ann.References] | ann.References) -> dict[str, float]:
        """Scores over every ground-truth video (union of the reference files), x100."""
        refs = [ground_truth] if isinstance(ground_truth, dict) else list(ground_truth)
        if not any(refs):
            raise DataError("the ground truth holds no video", where="ground truth", hint="check the reference files")
        unknown = [v for v in predictions if not any(v in r for r in refs)]
        if unknown:
            log.warning("dense_caption: %d predicted video(s) are not in the references and are ignored, e.g. %s", len(unknown), unknown[:3])
        from ..common.captioning import meteor_available

        if not meteor_available():
            log.warning("dense_caption: METEOR and SODA_c need Java; reported as NaN")
            out = densevid_scores(predictions, refs, self.tious, self.max_proposals, meteor=None)
            out["SODA_c"] = float("nan")
        else:
            meteor = shared_meteor()
            out = densevid_scores(predictions, refs, self.tious, self.max_proposals, meteor=meteor)
            out["SODA_c"] = soda_c(predictions, refs, meteor) if self.soda else float("nan")
        return {k: out[k] * 100.0 for k in self.keys}

    def plot(self, predictions: Any, ground_truth: Any, path: str | Path, max_videos: int = 3) -> bool:
        """Timelines per video: each reference file's captions and the predicted ones.

        Captions are normalised as the scorers see them (lower case, no punctuation:
        :func:`..common.captioning.simple_ptb_tokenize`), so "A person cuts the bread." and
        "a person cuts the bread." are one label with one colour.
        """
        from ..common.captioning import simple_ptb_tokenize
        from ..common.plots import plot_segment_timelines

        refs = [ground_truth] if isinstance(ground_truth, dict) else list(ground_truth)
        vids = [v for v in predictions if any(v in r for r in refs)][:max_videos]
        if not vids:
            return False
        videos = []
        for vid in vids:
            tracks: dict[str, list[tuple[float, float, str]]] = {}
            duration = 0.0
            for k, ref in enumerate(refs):
                if vid in ref:
                    duration = max(duration, float(ref[vid]["duration"]))
                    tracks[f"GT {k + 1}"] = [(float(s), float(e), simple_ptb_tokenize(t)) for (s, e), t in zip(ref[vid]["timestamps"], ref[vid]["sentences"])]
            tracks["pred"] = [(float(p["timestamp"][0]), float(p["timestamp"][1]), simple_ptb_tokenize(str(p["sentence"]))) for p in predictions[vid]]
            videos.append({"video_id": vid, "tracks": tracks, "duration": duration or None})
        plot_segment_timelines(videos, path, title="dense captioning: references vs predictions")
        return True
