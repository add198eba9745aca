"""`Ego4DLTADataset`: Ego4D long-term anticipation in the official schema (see `formats`).

One sample per window of N observed actions (+ Z = 20 future ones): features
`[L, Df]` of the parent video from the first observed action's start to the last
one's end (at most `max_observation` seconds, the most recent kept), timestamps
`[L, 2]` seconds, targets `verbs [Z]` / `nouns [Z]` (absent on the unannotated
split), `meta["key"] = "<clip_uid>_<last observed action_idx>"`.
"""
from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any, ClassVar


import torch

from videollm_core.base import VideoDataset
from videollm_core.errors import ConfigError, DataError

from ..common.features import is_safe_video_id
from ..common.source_args import SourceArgs, with_source_args
from . import demo as demo_data
from . import formats


class Ego4DLTADataset(VideoDataset):
    """Ego4D LTA samples.

    Args:
        annotations: `fho_lta_<split>.json` (default with `demo`: the demo file of `split`).
        taxonomy: `fho_lta_taxonomy.json` (default: beside `annotations`).
        split: `train`, `val` or `test_unannotated` (demo file choice; the last has no labels).
        fps: feature steps per second of the parent video (Ego4D SlowFast features: 30/16).
        num_input_actions: N observed actions per sample. z: future actions (20).
        max_observation: seconds of features kept at most (the most recent).
        features_dir, features, videos_dir, feature_dim, on_error, demo: the shared data-source
            arguments ([`SourceArgs`][videollm_plugins.tasks.common.source_args.SourceArgs]);
            `features_dir` holds `<video_uid>.npy` (default with `demo`: `features/`).
    """

    task: ClassVar[str] = "lta"
    provides_head_args: ClassVar[tuple[str, ...]] = ("num_verbs", "num_nouns", "z")
    annotations_arg: ClassVar[str | None] = "annotations"  # fho_lta_taxonomy.json beside it

    @with_source_args(after="taxonomy", omit=("check_values",))
    def __init__(self, annotations: str | None = None, taxonomy: str | None = None, split: str = "val", fps: float = 30 / 16,
                 num_input_actions: int = 2, z: int = 20, max_observation: float = 16.0, *, source: SourceArgs) -> None:
        self.errors = source.data_errors("Ego4DLTADataset")
        if fps <= 0 or int(num_input_actions) < 1 or int(z) < 1 or max_observation <= 0:
            raise ConfigError("need fps > 0, num_input_actions >= 1, z >= 1, max_observation > 0", where="Ego4DLTADataset")
        if source.demo is not None:
            from videollm_plugins.demo import ensure_demo_data

            params = demo_data.demo_params(source.demo, source.feature_dim)
            root = ensure_demo_data("lta", partial(demo_data.generate, params=params), params)
            annotations = annotations or str(root / f"fho_lta_{split}.json")
            source = source.with_default_features(root / "features")
            fps = float(params["fps"])
        if annotations is None:
            raise ConfigError("annotations and features_dir are required without demo", where="Ego4DLTADataset",
                              hint="set annotations: .../fho_lta_val.json and features_dir: ..., or demo: {num_clips: 16}")
        self.annotations = Path(annotations)
        self.taxonomy_path = Path(taxonomy) if taxonomy else self.annotations.parent / "fho_lta_taxonomy.json"
        self.taxonomy = formats.read_taxonomy(self.taxonomy_path)
        self.fps, self.z, self.num_input_actions = float(fps), int(z), int(num_input_actions)
        self.max_observation, self.feature_dim = float(max_observation), source.feature_dim
        clips = formats.read_annotations(self.annotations, self.errors)
        self.labelled = all(a.verb >= 0 for acts in clips.values() for a in acts)
        self.features = source.store(fps=self.fps, where="Ego4DLTADataset")
        self.windows = [w for w in formats.windows(clips, self.num_input_actions, self.z, need_future=self.labelled) if self._check(w)]

    def _fail(self, message: str, where: str) -> bool:
        self.errors.handle(DataError(message, where=where, hint="fix the entry, or set data.on_error: skip"))
        return False

    def _check(self, w: formats.LTAWindow) -> bool:
        where = f"{self.annotations} (sample {w.key})"
        if not is_safe_video_id(w.video_uid):
            return self._fail(f"unsafe video_uid {w.video_uid!r}", where)
        nv, nn = len(self.taxonomy["verbs"]), len(self.taxonomy["nouns"])
        labels = [(a.verb, a.noun) for a in w.observed] + list(zip(w.future_verbs, w.future_nouns))
        if self.labelled and any(v >= nv or n >= nn for v, n in labels):
            return self._fail(f"label outside the taxonomy ({nv} verbs, {nn} nouns)", where)
        try:
            feats = self.features(w.video_uid)
        except DataError as e:
            self.errors.handle(e)
            return False
        if w.observed[0].start * self.fps >= feats.shape[0]:
            return self._fail(f"observed actions start at {w.observed[0].start:.2f} s, after the features end "
                              f"({feats.shape[0] / self.fps:.2f} s)", where)
        return True

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        w = self.windows[index]
        feats = self.features(w.video_uid)
        end = w.observed[-1].end
        start = max(w.observed[0].start, end - self.max_observation)
        first = int(math.floor(start * self.fps))
        last = min(feats.shape[0], max(first + 1, int(math.ceil(end * self.fps))))
        first = min(first, last - 1)
        targets = {}
        if self.labelled:
            targets = {"verbs": torch.tensor(w.future_verbs, dtype=torch.long), "nouns": torch.tensor(w.future_nouns, dtype=torch.long)}
        x, ts = self.features.window(w.video_uid, first, last)
        return {"features": x, "timestamps": ts, "query": None, "targets": targets,
                "meta": {"video_id": w.video_uid, "key": w.key, "fps": self.fps}}

    def collate(self, samples: list[dict[str, Any]]):
        batch = super().collate(samples)
        for k in ("verbs", "nouns"):  # [Z] per sample: stack, never pad as if it were a time axis
            if k in samples[0]["targets"]:
                batch.targets[k] = torch.stack([torch.as_tensor(s["targets"][k]) for s in samples])
        return batch

    def ground_truth(self) -> dict[str, dict[str, list[int]]]:
        return {w.key: {"verb": list(w.future_verbs), "noun": list(w.future_nouns)} for w in self.windows}

    def class_table_file(self) -> str:
        """`fho_lta_taxonomy.json`: its verbs and nouns size the head."""
        return str(self.taxonomy_path)

    def head_args(self) -> dict[str, Any]:
        return {"num_verbs": len(self.taxonomy["verbs"]), "num_nouns": len(self.taxonomy["nouns"]), "z": self.z}

    def settings(self) -> dict[str, Any]:
        """Step rate, observed actions, Z and the longest observation, for `videollm predict --annotations`."""
        return {"fps": self.fps, "num_input_actions": self.num_input_actions, "z": self.z, "max_observation": self.max_observation}

    def metric_args(self) -> dict[str, Any]:
        return {"num_input_actions": self.num_input_actions, "z": self.z}


__all__ = ["Ego4DLTADataset"]
