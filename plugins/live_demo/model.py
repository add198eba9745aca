"""The model behind the live demo page: a model folder, and how the page feeds it.

`DemoModel` loads a folder written by `videollm export` (or a hub id) once per
server and says what the page asks for:

- **video mode**: the model's encoder reads pixels (a
  `FrameEncoder`, e.g. trained on
  `videollm demo-data TASK --videos`): an uploaded clip is sampled at the model's step
  rate (`fps` steps per second), frames resized to `size x size` pixels;
- **features mode**: a model trained on pre-extracted features `[T, Df]`: the page takes
  a `.npy` feature file (`Df` = the encoder's `in_dim`) plus, optionally, the video
  to display;
- **query**: the task's head retrieves moments for a text query (NLQ, QVHighlights): the
  page shows a query box, and the model must read the query before the units
  (`model.query_position: before`), since a stream has no end to read it after.

The pipeline is shared read-only by every browser session (inference under `no_grad`);
each answer run opens its own `VideoStream`, so sessions
share weights but never a key/value cache.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from videollm_core.errors import ConfigError


@dataclass
class DemoModel:
    """A loaded model and what the page needs to feed it.

    Attributes:
        pipeline: the `VideoLLM` in eval mode.
        task: the task whose head answers.
        fps: feature steps per second the model was trained on (one unit per `unit_size` steps).
        reads_pixels: video mode (the encoder reads frames) rather than features mode.
        size: side in pixels of the frames fed to the encoder (video mode), else None.
        feature_dim: `Df` of a feature file (features mode), else None.
        query: the head answers a text query (moments, saliency).
        class_names: the recorded class names (head order), or None.
        name: how the page titles the model.
    """

    pipeline: Any
    task: str
    fps: float
    reads_pixels: bool
    size: int | None
    feature_dim: int | None
    query: bool
    class_names: list[str] | None = None
    name: str = "model"
    inputs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, model: str, task: str | None = None) -> "DemoModel":
        """Load `model` (a model folder or hub id) for the page.

        Raises:
            DataError: the folder is missing or not a model folder; ConfigError: the model cannot serve
                the page (no recorded step rate, a query model that reads its query after the video).
        """
        from videollm_core.engine.pretrained import from_pretrained
        from videollm_plugins.encoders.frame import FrameEncoder
        from videollm_plugins.tasks.common.moment_heads import MomentBoundaryHead

        pipeline = from_pretrained(model).eval()
        task = pipeline.task_name(task)
        inputs = dict((pipeline.pretrained_info.get("inputs") or {}).get(task) or {})
        fps = inputs.get("fps")
        if not isinstance(fps, (int, float)) or fps <= 0:
            raise ConfigError("the model does not record its feature steps per second, so the page cannot time its answers",
                              where=f"{model}/videollm.json inputs.{task}.fps",
                              hint="export the model from a training run (videollm export WORK_DIR --out DIR)")
        encoder = pipeline.encoder
        reads_pixels = isinstance(encoder, FrameEncoder)
        source = inputs.get("source") if isinstance(inputs.get("source"), dict) else {}
        size = int(source.get("size") or encoder.image_size) if reads_pixels else None
        query = isinstance(pipeline.heads[task], MomentBoundaryHead)
        if query and pipeline.query_position == "after":
            raise ConfigError("this model reads its query after the whole video, so it cannot answer while a video plays",
                              where=f"{model}/config.yaml model.query_position",
                              hint="train it with model.query_position: before (and the head's query_fusion: false)")
        names = inputs.get("class_names")
        return cls(pipeline=pipeline, task=task, fps=float(fps), reads_pixels=reads_pixels, size=size,
                   feature_dim=None if reads_pixels else int(encoder.in_dim), query=query,
                   class_names=[str(n) for n in names] if names else None,
                   name=str(pipeline.pretrained_info.get("name") or model), inputs=inputs)

    @property
    def mode(self) -> str:
        """`"video"` or `"features"`."""
        return "video" if self.reads_pixels else "features"

    def describe(self) -> str:
        """One line for the page: task, mode and step rate."""
        what = f"video frames resized to {self.size}x{self.size}" if self.reads_pixels else f"{self.feature_dim}-dim feature files"
        return f"task {self.task} · {what} · {self.fps:g} steps/s" + (" · answers a text query" if self.query else "")


__all__ = ["DemoModel"]
