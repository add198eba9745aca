"""One EK100 split on disk: annotation csv + `actions.csv` + official files + `features/`.

`EK100Source` is what the OAD and anticipation datasets share: it resolves the
paths (or has the task's `demo.py` make the demo tree and reads that), reads and
checks the segments against the class tables and the feature files under the dataset's
`on_error` policy ([`DataErrors`][videollm_core.data.DataErrors]), and memory-maps each video's
features once.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from videollm_core.errors import ConfigError, DataError

from . import ek100
from .ek100_demo_data import ensure_tree
from .source_args import SourceArgs
from .features import is_safe_video_id, step_timestamps

log = logging.getLogger("videollm")

SPLIT_FILES = {"train": "training", "training": "training", "val": "validation", "validation": "validation"}


class EK100Source:
    """Paths, segments and features of one EK100 split.

    Args:
        annotations: RULSTM csv (default with `demo`: `rulstm_ek100/<split>.csv`).
        actions: `actions.csv` (default: beside `annotations`).
        splits_dir: official `EPIC_100_*` folder (default: beside or `../official`).
        split: `training`/`train` or `validation`/`val` (demo file choice).
        fps: feature steps per second (step `i` covers `[i/fps, (i+1)/fps)` s).
        source: the dataset's data-source arguments ([`SourceArgs`][videollm_plugins.tasks.common.source_args.SourceArgs]):
            the features (default with `demo`: `features/`; the RULSTM LMDB:
            `features: {type: LMDBFeatures, path: .../rgb}`), `feature_dim`, `on_error` (kept in `errors`)
            and `demo`, whose tree `demo_tree(demo, feature_dim) -> (root, params)` makes (the task's
            `demo.py` entry, `ensure_tree`) gives the default files.
        where: the dataset's name, for messages.
    """

    def __init__(self, annotations: str | None, actions: str | None, splits_dir: str | None, split: str, fps: float,
                 source: SourceArgs, where: str,
                 demo_tree: Callable[[dict[str, Any], int | None], tuple[Path, dict[str, Any]]] = ensure_tree) -> None:
        self.errors = source.data_errors(where)
        if split not in SPLIT_FILES:
            raise ConfigError(f"unknown split {split!r}", where=f"{where}.split", hint=f"use one of {sorted(SPLIT_FILES)}")
        if not fps or fps <= 0:
            raise ConfigError(f"fps must be > 0 (feature steps per second), got {fps}", where=f"{where}.fps")
        self.fps, self.feature_dim, self.where = float(fps), source.feature_dim, where
        if source.demo is not None:  # (the demo-data export records the paths this branch resolves)
            root, params = demo_tree(source.demo, source.feature_dim)
            annotations = annotations or str(root / "rulstm_ek100" / f"{SPLIT_FILES[split]}.csv")
            source = source.with_default_features(root / "features")
            splits_dir = splits_dir or str(root / "official")
            self.fps = float(params["fps"])
        if annotations is None:
            raise ConfigError("annotations and features_dir are required without demo", where=where,
                              hint="set annotations: .../rulstm_ek100/validation.csv and features_dir: ..., or demo: {num_videos: 16}")
        self.annotations = Path(annotations)
        self.features_dir = Path(source.features_dir) if source.features_dir is not None else None  # the short form's folder, if used
        self.actions_path = Path(actions) if actions else self.annotations.parent / "actions.csv"
        self.official_dir = ek100.find_official_dir(self.annotations, splits_dir)
        self.actions, self.action_names = ek100.read_actions(self.actions_path)
        self.num_verbs, self.num_nouns = ek100.class_counts(self.official_dir, self.actions)
        self.features = source.store(fps=self.fps, where=where)
        self.segments = self._checked(ek100.read_segments(self.annotations, self.errors))
        skipped = self.errors.skipped
        if skipped:
            log.warning("%s: skipped %d item(s) of %s; first: %s", where, len(skipped), self.annotations, skipped[0])

    @property
    def num_actions(self) -> int:
        return int(len(self.actions))

    @property
    def skipped(self) -> list[str]:
        """What `on_error: skip` dropped, one `"where: problem"` line each."""
        return self.errors.skipped

    def class_names(self) -> list[str] | None:
        """The action names of `actions.csv` in id order (None for an empty table)."""
        return list(self.action_names) or None

    def class_table_file(self) -> str:
        """`actions.csv`: the action table the heads are sized from."""
        return str(self.actions_path)

    def _fail(self, message: str, where: str, hint: str | None = None) -> None:
        self.errors.handle(DataError(message, where=where, hint=hint or "fix the file, or set data.on_error: skip"))

    def _checked(self, segments: list[ek100.EK100Segment]) -> list[ek100.EK100Segment]:
        keep = []
        bad_videos: set[str] = set()
        for i, s in enumerate(segments):
            where = f"{self.annotations} (narration {s.narration_id})"
            if not is_safe_video_id(s.video_id):
                self._fail(f"unsafe video id {s.video_id!r}", where, "video ids must be plain file names")
                continue
            if s.verb >= self.num_verbs or s.noun >= self.num_nouns or s.action >= self.num_actions:
                self._fail(f"unknown class (verb {s.verb}, noun {s.noun}, action {s.action}); the class tables have "
                           f"{self.num_verbs} verbs, {self.num_nouns} nouns, {self.num_actions} actions", where)
                continue
            if tuple(self.actions[s.action]) != (s.verb, s.noun):
                self._fail(f"action {s.action} is (verb, noun) {tuple(self.actions[s.action])} in {self.actions_path}, "
                           f"the row says ({s.verb}, {s.noun})", where)
                continue
            if s.video_id in bad_videos:
                continue
            try:
                feats = self.features(s.video_id)
            except DataError as e:
                self.errors.handle(e)
                bad_videos.add(s.video_id)
                continue
            if ek100.step_range(s, self.fps)[0] >= feats.shape[0]:
                self._fail(f"segment starts at {s.start_s:.2f} s, after the last feature step "
                           f"({feats.shape[0]} steps = {feats.shape[0] / self.fps:.2f} s at {self.fps} steps/s)", where,
                           "check fps and that the features cover the whole video")
                continue
            keep.append(s)
        return keep

    def timestamps(self, first: int, last: int) -> np.ndarray:
        """`[last - first, 2]` seconds of steps `first..last-1`."""
        return step_timestamps(first, last, self.fps)

    def steps_before(self, seconds: float) -> int:
        """Number of steps fully observed at time `seconds` (steps ending `<= seconds`)."""
        return max(0, int(math.floor(seconds * self.fps + 1e-6)))

    def videos(self) -> list[str]:
        """Video ids with at least one kept segment, in file order."""
        return list(dict.fromkeys(s.video_id for s in self.segments))


__all__ = ["EK100Source", "SPLIT_FILES"]
