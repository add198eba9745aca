"""Predictions for new videos with a loaded pipeline: no dataset, no annotations.

Each video's features ``[T, Df]`` (steps of ``1 / fps`` seconds) are cut into windows of
``window_steps`` steps (as the task's datasets cut them; ``None``: the whole video), run
through the pipeline in batches, and the head's entries are written by the task's metric in
the benchmark's official format. Sample metadata carries every id a built-in head reads
(``video_id``, ``first_step``, ``num_steps``, ``num_frames``, ``duration``, ``narration_id``,
``key``, ``qid``...), set from the video id, since new videos have no annotation ids.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
import torch

from ..errors import ConfigError, DataError

log = logging.getLogger("videollm")


def video_features(path: str | Path, fps: float, feature_dim: int | None = None,
                   channels_first: bool = False, source: Mapping[str, Any] | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """``(video id, features [T, Df] float32)`` of a ``.npy`` file (id: its stem), of a YAML
    file holding a feature source config (``{type: HDF5Features, path: ...}``), or of any path
    a registered feature source reads (a folder of ``<video>.npy``, an HDF5 file...): the source
    the model recorded (``source``: its type and settings, e.g. an HDF5 ``key``) when given, else
    the first that claims the path.

    ``channels_first``: the files hold ``[Df, T]`` (MS-TCN), as the model's dataset read them.
    Each video is checked as training checks it: ``[T, Df]`` with ``T >= 1``, ``Df ==
    feature_dim`` (the model's encoder width, when given) and finite values."""
    path = Path(path)
    if path.is_file() and path.suffix == ".npy":
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, EOFError, ValueError) as e:  # empty, truncated header, pickled objects, not an .npy
            raise DataError(f"cannot read the feature file ({type(e).__name__}: {e})", where=str(path),
                            hint="save features [T, Df] with numpy.save") from e
        yield path.stem, _checked(arr, str(path), feature_dim, channels_first)
        return
    from ..features import build_feature_source, features_from_path

    if path.is_file() and path.suffix in (".yaml", ".yml"):
        from ..config import load_config

        reader = build_feature_source(dict(load_config(path)), fps=fps, where=str(path))
    elif source:
        reader = recorded_source(path, source, fps)
    else:
        reader = features_from_path(path, fps=fps)
    for vid in reader.video_ids():
        yield vid, _checked(reader.read(vid), f"{path}:{vid}", feature_dim, channels_first)


def recorded_source(path: Path, source: Mapping[str, Any], fps: float, registries: Any = None) -> Any:
    """The feature source the model was trained with (``source``: type and settings) at ``path``.

    Raises:
        DataError: that source type does not read ``path`` (naming both).
    """
    from ..features import build_feature_source
    from ..plugins import REGISTRIES

    registries = registries or REGISTRIES
    cls = registries.features.lookup(str(source["type"]), where="the model's feature source")
    location = cls.claims(Path(path)) if Path(path).exists() else None
    if location is None:
        raise DataError(f"the model read its features with {source['type']}, which does not read this path", where=str(path),
                        hint=f"give the features in that layout, or a YAML feature-source config ({{type: {source['type']}, ...}})")
    return build_feature_source({**location, **source}, fps=fps, where=str(path), registries=registries)


def check_manifest(features: str | Path, inputs: Mapping[str, Any], info: Mapping[str, Any], *, fps_given: bool) -> None:
    """Refuse features whose ``manifest.json`` (``videollm extract``) disagrees with the model.

    Args:
        features: the ``--features`` path (a folder, or a file whose folder holds the manifest).
        inputs: the model's recorded inputs of the task (``fps``: feature steps per second).
        info: the model's ``videollm.json`` (``extraction``: the backbone its features came from).
        fps_given: ``--fps`` was passed: the user chose the step rate, so a differing one is theirs.

    Raises:
        DataError: the step rate or the backbone differ, naming both and the way out.
    """
    from ..paths import read_json

    features = Path(features)
    manifest = (features if features.is_dir() else features.parent) / "manifest.json"
    if not manifest.is_file():
        return
    data = read_json(manifest, "features manifest", dict)
    rate, model_rate = data.get("fps"), inputs.get("fps")
    if not fps_given and isinstance(rate, (int, float)) and model_rate and abs(float(rate) - float(model_rate)) > 1e-6:
        raise DataError(f"the features were extracted at {float(rate):g} steps/s, but the model was trained on {float(model_rate):g} steps/s",
                        where=str(manifest), hint=f"extract them again with --fps {float(model_rate):g}, or pass --fps {float(rate):g} "
                                                  "to read them at their own rate anyway (the model then sees another step rate than it learnt)")
    extraction = found if isinstance(found := info.get("extraction"), Mapping) else {}

    def name(backbone: Any) -> str | None:
        return str(backbone.get("name")) if isinstance(backbone, Mapping) else (str(backbone) if backbone else None)

    ours, theirs = name(extraction.get("backbone")), name(data.get("backbone"))
    if ours and theirs and ours != theirs:
        raise DataError(f"the features come from backbone {theirs!r}, but the model was trained on features of {ours!r}",
                        where=str(manifest), hint=f"extract them with --backbone {ours}")


def extract_for_model(info: Mapping[str, Any], videos: str | Path, out: str | Path, device: str = "cpu") -> Path:
    """Features of a video file (or a folder of them) made as the model's training features were.

    The backbone and step rate come from the model's ``videollm.json`` ``extraction`` entry
    (a features ``manifest.json`` recorded at export); ``videollm extract`` does the work.
    Returns the folder of ``<video>.npy`` (``out``).

    Raises:
        ConfigError: the model does not record its extraction backbone.
        DataError: a video cannot be decoded (naming it).
    """
    from .data import _plugin_module

    extraction = info.get("extraction") or {}
    backbone = extraction.get("backbone") if isinstance(extraction, Mapping) else None
    name = backbone.get("name") if isinstance(backbone, Mapping) else backbone
    if not name or not extraction.get("fps"):
        raise ConfigError("the model does not record the backbone its features were extracted with", where="--videos",
                          hint="extract features with `videollm extract --backbone ... --fps ...` and pass --features")
    videos, out = Path(videos), Path(out)
    if videos.is_file():  # one video: a folder holding only it
        single = out / ".videos"
        single.mkdir(parents=True, exist_ok=True)
        link = single / videos.name
        if not link.exists():
            link.symlink_to(videos.resolve())
        videos = single
    extract = _plugin_module("videollm_plugins.features.extract", "predict --videos")
    extract.Extraction(str(name), videos, out, float(extraction["fps"]), device=device, strict=True, progress=False).run()
    return out


def _checked(feats: Any, where: str, feature_dim: int | None = None, channels_first: bool = False) -> np.ndarray:
    arr = np.asarray(feats, dtype=np.float32)
    if channels_first and arr.ndim == 2:
        arr = arr.T
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise DataError(f"expected features [T, Df] with T >= 1, got shape {list(arr.shape)}", where=where)
    if feature_dim is not None and arr.shape[1] != feature_dim:
        flipped = arr.shape[0] == feature_dim
        layout = "[Df, T] as the model's dataset read them" if channels_first else "[T, Df]"
        raise DataError(f"features of width {arr.shape[1]} (read as {layout}: {list(arr.shape)}), but the model reads {feature_dim}-dim features",
                        where=where, hint=("the file is laid out the other way: [T, Df] vs channels-first [Df, T]" if flipped
                                           else "extract the features with the backbone the model was trained on (see its videollm.json)"))
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        raise DataError(f"non-finite feature values (NaN or Inf) at step {int(np.argmin(finite))}", where=where,
                        hint="check the extractor; the model never scores NaN features")
    return arr


def video_samples(vid: str, feats: np.ndarray, inputs: Mapping[str, Any], query: str | None = None) -> list[dict[str, Any]]:
    """Sample dicts (see :class:`~videollm_core.base.VideoDataset`) covering one video ``[T, Df]``
    as the model's dataset cut them (``inputs``, its :meth:`~videollm_core.data.VideoDataset.reading`):
    windows of ``window`` seconds at ``fps`` steps per second; a head that answers per frame
    (``frames_per_step``, ``frame_rate``) gets ``T * frames_per_step`` frames at ``frame_rate``."""
    fps, window = float(inputs["fps"]), inputs.get("window")
    t = feats.shape[0]
    size = max(1, int(round(float(window) * fps))) if window else t
    per_frame = bool(inputs.get("frames_per_step"))
    frame_rate = float(inputs["frame_rate"]) if per_frame else fps
    frames = t * int(inputs["frames_per_step"]) if per_frame else t
    out = []
    for first in range(0, t, size):
        last = min(first + size, t)
        steps = np.arange(first, last, dtype=np.float32)
        out.append({
            "features": np.array(feats[first:last], dtype=np.float32),
            "timestamps": np.stack([steps, steps + 1], -1) / fps,
            "query": query,
            "targets": {},
            "meta": {"video_id": vid, "fps": frame_rate, "first_step": first, "num_steps": t, "num_frames": frames,
                     "duration": t / fps, "narration_id": vid, "key": vid, "timestamp_sec": last / fps,
                     "qid": vid, "query": query or "", "annotation_uid": vid, "query_idx": 0, "observed": True},
        })
    return out


def annotated_dataset(pipeline: Any, task: str, inputs: Mapping[str, Any], annotations: str | Path, features: str | Path,
                      registries: Any = None) -> Any:
    """The model's dataset class built on a new annotation file (queries, narrations, segments
    in the benchmark's format) and feature folder, with the settings the model recorded
    (``inputs["dataset"]``: type and :meth:`~videollm_core.data.VideoDataset.settings`).

    Raises:
        ConfigError: the model records no such dataset (its samples come from features alone,
            or it was exported before this was recorded).
    """
    from ..plugins import REGISTRIES

    recorded = inputs.get("dataset")
    if not isinstance(recorded, Mapping) or not recorded.get("type"):
        raise ConfigError(f"the model's {task} samples are not read from an annotation file (or its folder does not record how)",
                          where="--annotations", hint="leave --annotations out: predict reads whole videos from --features")
    registries = registries or REGISTRIES
    cls = registries.datasets.lookup(str(recorded["type"]), where="--annotations")
    config = {**recorded, cls.annotations_arg: str(annotations), "features_dir": str(features), "feature_dim": pipeline.encoder_for(task).in_dim}
    return registries.datasets.build(config, where=f"--annotations ({recorded['type']})")


@torch.no_grad()
def predict_entries(pipeline: Any, samples: Iterable[dict[str, Any]], task: str, batch_size: int = 8,
                    collate: Any = None, total: int | None = None, progress: bool = False) -> list[dict[str, Any]]:
    """The head's prediction entries for ``samples`` (pipeline in eval mode), ``batch_size`` at a
    time, padded by ``collate`` (default :func:`~videollm_core.base.pad_collate`). ``samples`` is
    consumed lazily (a generator over a long split holds one batch at a time); ``total``, when
    known, gives the progress bar its time left."""
    from ..base import pad_collate
    from ..engine.logs import progress_bar

    collate = collate or pad_collate
    device = next((p.device for p in pipeline.parameters()), torch.device("cpu"))
    entries: list[dict[str, Any]] = []
    pipeline.eval()
    bar = progress_bar(total, 0, enabled=progress, desc="predict", unit="sample")
    chunk: list[dict[str, Any]] = []
    seen = 0

    def run() -> None:
        batch = collate(chunk).to(device)
        if not any(batch.queries or []):
            batch.queries = None
        entries.extend(pipeline.predict(pipeline(batch, task), batch, task))
        bar.update(len(chunk))
        chunk.clear()

    for sample in samples:
        chunk.append(sample)
        seen += 1
        if len(chunk) == batch_size:
            run()
    if chunk:
        run()
    bar.close()
    if not seen:
        raise DataError("no video to predict", where="--features")
    return entries


def task_metric_config(cfg: Mapping[str, Any], task: str) -> dict[str, Any]:
    """The metric config of ``task`` in a model config (it formats the official predictions)."""
    from ..validation import task_specs

    for spec in task_specs(cfg):
        if spec.name == task:
            if not spec.metric:
                raise ConfigError(f"task '{task}' has no metric to write official predictions", where=spec.path("metric"),
                                  hint="export the model from a run whose config names the task's metric")
            return dict(spec.metric)
    raise ConfigError(f"unknown task {task!r}", where="--task")


def metric_for_output(cfg: Mapping[str, Any], task: str, out: str | Path, registries: Any = None) -> Any:
    """The task's metric, set to write what ``out`` names: a file name (``preds.json``) gives
    one file, a name without a suffix (``preds/``) a folder.

    A metric whose runs write a folder but that can also write one file (OAD's ``compact:
    false``) writes the file when ``out`` names one.

    Raises:
        ConfigError: ``out`` names a file for a task whose official format is a folder, or a
            folder (or a name without the format's suffix) for a task whose format is a file.
    """
    from ..plugins import REGISTRIES
    from ..signature import constructor_parameters

    registries = registries or REGISTRIES
    config = task_metric_config(cfg, task)
    metric = registries.metrics.build(config, where=f"metric of task '{task}'")
    out = Path(out)
    wants_file = bool(out.suffix) and not out.is_dir()
    if wants_file and not metric.prediction_suffix and "compact" in constructor_parameters(type(metric)):
        metric = registries.metrics.build({**config, "compact": False}, where=f"metric of task '{task}'")
    suffix = metric.prediction_suffix
    if not suffix and wants_file:
        raise ConfigError(f"{task} predictions are a folder of files in the benchmark's layout, not one {out.suffix} file",
                          where="--out", hint=f"give a folder name without a suffix, e.g. --out {out.with_suffix('')}/")
    if suffix and not (wants_file and out.name.endswith((suffix, suffix + ".gz"))):
        raise ConfigError(f"{task} predictions are one {suffix} file" + (f"; {out} is a folder" if out.is_dir() else ""),
                          where="--out", hint=f"give a file name ending in {suffix}, e.g. --out {out.with_suffix('') if not out.is_dir() else out / 'predictions'}{suffix}")
    return metric


def write_predictions(cfg: Mapping[str, Any], task: str, entries: list[dict[str, Any]], out: str | Path,
                      registries: Any = None, metric: Any = None) -> Path:
    """Format ``entries`` with the task's metric (``metric``, else :func:`metric_for_output`) and
    save them (official format) to ``out``."""
    from ..engine.prediction_writer import open_writer

    metric = metric if metric is not None else metric_for_output(cfg, task, out, registries)
    writer = open_writer(metric, out)
    writer.write(entries)
    writer.close()
    return Path(out)


__all__ = ["video_features", "recorded_source", "check_manifest", "annotated_dataset", "extract_for_model", "video_samples", "predict_entries", "task_metric_config", "metric_for_output",
           "write_predictions"]
