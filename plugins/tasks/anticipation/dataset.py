"""`EK100AnticipationDataset`: EPIC-KITCHENS-100 action anticipation, RULSTM layout.

One sample per annotated segment: the features observed up to `tau_a` seconds
before the segment starts (`observation` seconds of them at most), i.e. feature
steps `i` with `(i + 1) / fps <= start_s - tau_a`. Targets: the segment's verb,
noun and action ids (scalars). Segments starting before `tau_a` + one step have no
observed step: they keep one placeholder step, `meta["observed"] = False`, and the
head predicts all-zero scores for them (still counted, as in MAT).
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from videollm_core.base import VideoDataset
from videollm_core.errors import ConfigError

from ..common import ek100
from ..common.ek100_source import EK100Source
from ..common.source_args import SourceArgs, with_source_args
from . import demo as demo_data
from .formats import EK100GroundTruth


class EK100AnticipationDataset(VideoDataset):
    """EK100 anticipation samples (see the module docstring).

    The arguments `annotations`, `actions`, `splits_dir`, `split` and `fps` are those of
    `EK100Source`.

    Args:
        tau_a: anticipation time, seconds (1.0 in the benchmark).
        observation: observed window length, seconds (RULSTM: 14 steps x 0.25 s = 3.5 s).
        features_dir, features, videos_dir, feature_dim, on_error, demo: the shared data-source
            arguments ([`SourceArgs`][videollm_plugins.tasks.common.source_args.SourceArgs]), handed to `EK100Source`.
    """

    task: ClassVar[str] = "anticipation"
    provides_head_args: ClassVar[tuple[str, ...]] = ("num_verbs", "num_nouns", "num_actions")
    annotations_arg: ClassVar[str | None] = "annotations"

    @with_source_args(after="actions", omit=("check_values",))
    def __init__(self, annotations: str | None = None, actions: str | None = None, splits_dir: str | None = None,
                 split: str = "validation", fps: float = 4.0, tau_a: float = 1.0, observation: float = 3.5,
                 *, source: SourceArgs) -> None:
        if tau_a < 0 or observation <= 0:
            raise ConfigError(f"need tau_a >= 0 and observation > 0 seconds, got {tau_a}, {observation}", where="EK100AnticipationDataset")
        self.source = EK100Source(annotations, actions, splits_dir, split, fps, source, where="EK100AnticipationDataset",
                                  demo_tree=demo_data.ek100_tree)
        self.tau_a, self.observation = float(tau_a), float(observation)
        self.fps, self.window = self.source.fps, self.observation  # steps/s; each sample observes `observation` s
        self.errors = self.source.errors

    def __len__(self) -> int:
        return len(self.source.segments)

    def __getitem__(self, index: int) -> dict[str, Any]:
        src = self.source
        seg = src.segments[index]
        feats = src.features(seg.video_id)
        obs_end = seg.start_s - self.tau_a
        last = min(src.steps_before(obs_end), feats.shape[0])
        first = max(0, last - max(1, int(round(self.observation * src.fps))))
        observed = last > 0
        if not observed:
            first, last = 0, 1  # placeholder step; the head ignores it (meta["observed"] is False)
        return {
            "features": np.array(feats[first:last], dtype=np.float32),
            "timestamps": src.timestamps(first, last),
            "query": None,
            "targets": {"verb": np.asarray(seg.verb), "noun": np.asarray(seg.noun), "action": np.asarray(seg.action),
                        "observed": np.asarray(observed)},
            "meta": {"video_id": seg.video_id, "narration_id": seg.narration_id, "fps": src.fps,
                     "observed": observed, "observation_end": obs_end, "start": seg.start_s},
        }

    def ground_truth(self) -> EK100GroundTruth:
        return EK100GroundTruth(list(self.source.segments), self.source.actions,
                                ek100.read_splits(self.source.official_dir), list(self.source.action_names))

    def class_names(self) -> list[str] | None:
        """EK100 action names in action-id order (`actions.csv`)."""
        return self.source.class_names()

    def class_table_file(self) -> str:
        return self.source.class_table_file()

    def head_args(self) -> dict[str, Any]:
        return {"num_verbs": self.source.num_verbs, "num_nouns": self.source.num_nouns, "num_actions": self.source.num_actions}

    def settings(self) -> dict[str, Any]:
        """Step rate, anticipation time and observed seconds, for `videollm predict --annotations`."""
        return {"fps": self.source.fps, "tau_a": self.tau_a, "observation": self.observation}

    def metric_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"actions": str(self.source.actions_path)}
        if self.source.official_dir is not None:
            args["splits_dir"] = str(self.source.official_dir)
        return args
