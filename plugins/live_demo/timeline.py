"""Answers on a timeline: what the page draws, as JSON, for any task.

`Timeline` collects the answers of one stream
(`stream_answer`: `{"unit": u, KEY: value, ...}`), each
stamped with `t`: the playback position (seconds) at which it was known, i.e. the end time
of the last feature step pushed before the model gave it. The page shows an answer once the
video's `currentTime` reaches its `t`, so answers appear in step with playback and never
before the frames they rest on have been shown.

From the answers it derives what the page draws:

- `ranked`: the answer keys holding ranked classes `[[label, prob], ...]` (e.g. `action`,
  `verb`, `noun`; `next_action` for anticipation); the first named one is `primary`;
- `detections`: runs of at least `min_units` consecutive units whose top `primary` class
  is the same and not background, `{"start", "end", "label", "score", "t"}` seconds (the
  growing timeline of online action detection; `t`: when the run became long enough);
- captions, moments and saliency stay in the answers (`caption`, `moments`
  `[[start_s, end_s, score], ...]`, `saliency` in 0..1) and are drawn by the page's script.
"""
from __future__ import annotations

from typing import Any

BACKGROUND = ("background", "Background", 0)


def is_ranking(value: Any) -> bool:
    """`[[label, prob], ...]`: the top classes of one output."""
    return (isinstance(value, list) and bool(value)
            and all(isinstance(v, (list, tuple)) and len(v) == 2 and isinstance(v[1], (int, float)) for v in value))


class Timeline:
    """The answers of one stream and the detections drawn from them.

    Args:
        task: the task's name (shown by the page).
        duration: the video's length in seconds.
        unit_seconds: seconds between unit starts (`stride / fps`), for detection ends.
        min_units: units a top class must hold in a row before it is drawn as a detection
            (2: a one-unit flicker is not a detection; it costs one unit of delay).
    """

    def __init__(self, task: str, duration: float, unit_seconds: float, min_units: int = 2):
        self.task = task
        self.min_units = max(1, int(min_units))
        self._run: dict[str, Any] | None = None
        self.duration = float(duration)
        self.unit_seconds = float(unit_seconds)
        self.answers: list[dict[str, Any]] = []
        self.detections: list[dict[str, Any]] = []
        self.primary: str | None = None
        self.answered_s = 0.0
        self.done = False

    def add(self, answers: list[dict[str, Any]], t: float) -> None:
        """Answers known once the video played to `t` seconds."""
        for answer in answers:
            self.answers.append({"t": round(float(t), 4), **answer})
            self._detect(answer, float(t))
        self.answered_s = max(self.answered_s, float(t))

    def _detect(self, answer: dict[str, Any], t: float) -> None:
        if self.primary is None:
            keys = [k for k, v in answer.items() if is_ranking(v)]
            named = [k for k in keys if isinstance(answer[k][0][0], str)]
            self.primary = (named or keys or [None])[0]
        top = answer.get(self.primary) if self.primary else None
        if not is_ranking(top) or not isinstance(answer.get("unit"), int):
            return
        label, score = top[0]
        start = answer["unit"] * self.unit_seconds
        run = self._run
        if run is not None and run["label"] == label and abs(run["end"] - start) < 1e-6:
            run["end"], run["score"], run["units"] = round(start + self.unit_seconds, 4), max(run["score"], float(score)), run["units"] + 1
        else:
            run = self._run = {"label": label, "start": round(start, 4), "end": round(start + self.unit_seconds, 4),
                               "score": float(score), "units": 1, "shown": None}
        if label in BACKGROUND or run["units"] < self.min_units:
            return
        if run["shown"] is None:  # the run just became long enough: a new detection, known from now on
            run["shown"] = {"start": run["start"], "end": run["end"], "label": label, "score": 0.0, "t": round(t, 4)}
            self.detections.append(run["shown"])
        run["shown"]["end"], run["shown"]["score"] = run["end"], round(run["score"], 4)

    def labels(self) -> list[Any]:
        """The labels of the detections in order (what the timeline shows once played through)."""
        return [d["label"] for d in self.detections]

    def to_json(self, **extra: Any) -> dict[str, Any]:
        """What the page's script draws: `{task, duration, unit_seconds, primary, answered_s, done,
        answers, detections, ...extra}` (plain JSON)."""
        return {"task": self.task, "duration": self.duration, "unit_seconds": self.unit_seconds, "primary": self.primary,
                "answered_s": round(self.answered_s, 4), "done": self.done, "answers": self.answers,
                "detections": self.detections, **extra}


__all__ = ["Timeline", "is_ranking"]
