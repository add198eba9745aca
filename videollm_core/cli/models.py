"""``videollm export``, ``videollm predict`` and ``videollm stream``: trained models as artefacts.

- ``export WORK_DIR --out DIR [--checkpoint best|last|PATH]``: a run's checkpoint as a
  pretrained folder (:mod:`videollm_core.cli.export`).
- ``predict MODEL --features PATH [--task T] --out FILE``: official-format predictions
  for new videos (a ``.npy`` file, a folder of ``<video>.npy`` or any path a feature
  source reads, or ``--videos`` files whose features are extracted first with the backbone
  the model records), no annotations needed (:mod:`videollm_core.cli.inference`).
- ``stream MODEL INPUT [--task T] [--json] [--step-seconds S]``: feed a feature file (or a
  video file, through the backbone the model records) unit by unit through
  ``pipeline.stream()`` and print each answer the task's head declares as it arrives
  (:meth:`~videollm_core.base.TaskHead.stream_answer`), then the units per second;
  ``--json``: one JSON object per answer.

``MODEL`` is a folder written by ``videollm export`` / ``VideoLLM.save_pretrained`` or a hub id.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError, DataError


#: video files ``stream`` and ``predict --videos`` extract features from (those ``videollm extract`` reads).
VIDEO_FILES = (".mp4", ".mkv", ".webm", ".avi", ".mov")


def add_model_commands(sub: Any, add_common: Callable[..., None]) -> None:
    """Register the three subcommands on ``videollm``'s subparsers."""
    p = sub.add_parser("export", help="write a run's checkpoint as a model folder (config, weights, PEFT adapter, model card)")
    p.add_argument("work_dir", help="the run's work dir (holds config.yaml and checkpoints/)")
    p.add_argument("--out", required=True, help="the model folder to write (replaced if it exists)")
    p.add_argument("--checkpoint", default="best", metavar="best|last|PATH", help="which checkpoint (default: best)")
    p.add_argument("--name", help="model name in the model card (default: the work dir's name)")
    p.set_defaults(func=cmd_export)
    add_common(p, suppress=True)

    p = sub.add_parser("predict", help="official-format predictions of a model folder for new videos (features or video files; no annotations)")
    p.add_argument("model", help="a model folder (videollm export) or a hub id")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--features", metavar="PATH", help="a .npy file [T, Df], a folder of <video>.npy, a feature file, or a YAML feature-source config")
    source.add_argument("--videos", metavar="PATH", help="a video file or a folder of them: features extracted first with the backbone the model records")
    p.add_argument("--out", required=True, metavar="FILE|DIR",
                   help="predictions in the task's official format: a file (preds.json, preds.jsonl) or, for tasks whose format is a folder (MS-TCN results), a folder name without a suffix")
    _add_input_options(p)
    p.add_argument("--batch-size", type=_positive_int, default=8)
    p.add_argument("--device", default="cpu", help="torch device for --videos extraction and the model (default cpu)")
    p.add_argument("--query", help="the query text, for query tasks (nlq, qvhighlights)")
    p.add_argument("--annotations", metavar="FILE",
                   help="an annotation file in the benchmark's format (queries, narrations, segments to anticipate, "
                        "references with durations): samples are cut from it by the model's own dataset class, as in training")
    p.set_defaults(func=cmd_predict)
    add_common(p, suppress=True)

    p = sub.add_parser("stream", help="feed a feature (or video) file unit by unit through the model and print each answer as it arrives")
    p.add_argument("model", help="a model folder (videollm export) or a hub id")
    p.add_argument("input", help="a .npy feature file [T, Df], or a video file (features extracted first with the model's backbone)")
    _add_input_options(p)
    p.add_argument("--step-seconds", type=float, metavar="S", help="seconds per feature step (default: 1 / the model's fps)")
    p.add_argument("--top", type=_positive_int, default=3, help="top classes per unit, or moments / segments per answer (default 3)")
    p.add_argument("--query", help="the query text, for query tasks")
    p.add_argument("--json", action="store_true", help="one JSON object per answer")
    p.add_argument("--device", default="cpu", help="torch device for video extraction (default cpu)")
    p.set_defaults(func=cmd_stream)
    add_common(p, suppress=True)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", help="the task to answer (default: the model's only task)")
    p.add_argument("--fps", type=float, help="feature steps per second (default: what the model was trained on; "
                                             "features whose manifest.json says another rate are refused unless --fps is given)")
    p.add_argument("--ignore-manifest", action="store_true",
                   help="read features whose manifest.json names another step rate or backbone than the model's")


def _load(args: argparse.Namespace) -> tuple[Any, str, dict[str, Any]]:
    """``(pipeline, task, inputs)``: the model, the task, and its recorded ``{fps, window}``."""
    from ..engine.pretrained import from_pretrained

    pipeline = from_pretrained(args.model)
    task = pipeline.task_name(args.task)
    inputs = dict((pipeline.pretrained_info.get("inputs") or {}).get(task) or {})
    if args.fps is not None:
        if not (args.fps > 0 and math.isfinite(args.fps)):
            raise ConfigError(f"--fps must be a positive number, got {args.fps}", where="--fps")
        inputs["fps"] = args.fps
    if not inputs.get("fps") and not getattr(args, "annotations", None):  # the dataset of --annotations times its own samples
        raise ConfigError("the model does not record its feature steps per second", where="--fps",
                          hint="pass --fps (e.g. 4 for EK100/THUMOS online action detection features)")
    return pipeline, task, inputs


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_run

    path = export_run(args.work_dir, args.out, args.checkpoint, name=args.name)
    print(f"wrote {path}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import tempfile

    from .extras import require_extra
    from .inference import (annotated_dataset, check_manifest, extract_for_model, metric_for_output, predict_entries,
                            video_features, video_samples, write_predictions)

    if args.videos:
        require_extra("av", "videollm predict --videos")  # before the model loads
    if args.annotations and not args.features:
        raise ConfigError("--annotations goes with --features (the feature folder of the annotated videos)", where="--annotations")
    pipeline, task, inputs = _load(args)
    metric = metric_for_output(pipeline.config, task, args.out)  # a wrong --out fails before any work
    pipeline.to(args.device)
    if args.features and not args.ignore_manifest:
        check_manifest(args.features, inputs, pipeline.pretrained_info, fps_given=args.fps is not None)
    with tempfile.TemporaryDirectory(prefix="videollm-features-") as tmp:
        if args.annotations:  # samples anchored in the file, read by the model's own dataset class
            dataset = annotated_dataset(pipeline, task, inputs, args.annotations, args.features)
            samples, collate, total = (dataset[i] for i in range(len(dataset))), dataset.collate, len(dataset)
        else:  # video by video, one batch of windows in memory at a time
            features = args.features or extract_for_model(pipeline.pretrained_info, args.videos, tmp, args.device)
            videos = video_features(features, float(inputs["fps"]), pipeline.encoder_for(task).in_dim, bool(inputs.get("channels_first")),
                                    None if args.videos else inputs.get("source"))
            samples, collate, total = (s for vid, feats in videos for s in video_samples(vid, feats, inputs, args.query)), None, None
        entries = predict_entries(pipeline, samples, task, args.batch_size, collate, total, progress=not getattr(args, "quiet", False))
    path = write_predictions(pipeline.config, task, entries, args.out, metric=metric)
    n_videos = len({str(e.get("video_id", i)) for i, e in enumerate(entries)})
    print(f"{task}: {n_videos} video(s) -> {path}")
    return 0


# -- stream -----------------------------------------------------------------------
def unit_answers(outputs: dict[str, Any], first_unit: int, n_units: int, top: int, names: list[str] | None = None,
                 head: Any = None, state: dict[str, Any] | None = None, final: bool = False) -> list[dict[str, Any]]:
    """The JSON-ready answers of a push's head outputs (video 0 of the stream), which completed units
    ``first_unit .. first_unit + n_units - 1``: what the task's ``head`` declares
    (:meth:`~videollm_core.base.TaskHead.stream_answer`: class scores, moments, anticipated sequences,
    captions...), with ``top`` entries per answer, the recorded class ``names``, the stream's ``state``
    (one dict per stream) and ``final`` after ``flush``. Without ``head``: the default reading of
    class scores (:func:`~videollm_core.streaming.class_answers`)."""
    if head is None:
        from ..streaming import class_answers

        return class_answers(outputs, first_unit, n_units, top, names)
    return head.stream_answer(outputs, first_unit, n_units, top=top, class_names=names, state=state, final=final)


def _json_line(answer: dict[str, Any]) -> str:
    """One answer as strict JSON (no ``NaN``, which JSON has not): a model whose scores went
    non-finite on finite features is an error naming the unit, not a line other programs choke on."""
    try:
        return json.dumps(answer, allow_nan=False)
    except ValueError:
        raise DataError(f"the model gave non-finite scores at unit {answer['unit']}", where="videollm stream --json",
                        hint="check the model's weights (videollm export of a run whose loss stayed finite)") from None


def _text(key: str, value: Any) -> str:
    """One value of an answer as text: numbers to 3 decimals, a ``segment`` ``[start_s, end_s]`` as
    ``"s-e s"``, ``moments`` / ``segments`` ``[[start_s, end_s, ...], ...]`` likewise, a caption
    quoted, an event (a dict) field after field, lists of lists (ranked classes, action pairs)
    comma-separated, flat lists (sequences) space-separated."""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, str):
        return f'"{value}"' if key == "caption" else value
    if isinstance(value, dict):
        return " ".join(_text(k, v) for k, v in value.items())
    if not isinstance(value, (list, tuple)):
        return str(value)
    if key == "segment" and len(value) == 2:
        return f"{value[0]:.2f}-{value[1]:.2f} s"
    if key in ("moments", "segments"):
        return ", ".join(" ".join([_text("segment", m[:2]), *(_text("", x) for x in m[2:])]) for m in value)
    if value and all(isinstance(v, dict) for v in value):
        return "; ".join(_text(key, v) for v in value)
    if value and all(isinstance(v, (list, tuple)) for v in value):
        return ", ".join(" ".join(_text(key, x) for x in v) for v in value)
    return " ".join(_text(key, x) for x in value)


def _format_answer(answer: dict[str, Any]) -> str:
    """One answer as a line of text: ``unit     u  KEY: value  ...`` (:func:`_text`)."""
    return "  ".join([f"unit {answer['unit']:>5}", *(f"{key}: {_text(key, value)}" for key, value in answer.items() if key != "unit")])


def cmd_stream(args: argparse.Namespace) -> int:
    import numpy as np

    from .extras import require_extra
    from .inference import check_manifest, video_features

    if Path(args.input).suffix.lower() in VIDEO_FILES:
        require_extra("av", "videollm stream VIDEO")  # before the model loads
    pipeline, task, inputs = _load(args)
    step = args.step_seconds if args.step_seconds is not None else 1.0 / float(inputs["fps"])
    if not (step > 0 and math.isfinite(step)):
        raise ConfigError(f"--step-seconds must be a positive number, got {step}", where="--step-seconds")
    path = Path(args.input)
    if path.is_file() and path.suffix.lower() in VIDEO_FILES:
        import tempfile

        from .inference import extract_for_model

        with tempfile.TemporaryDirectory(prefix="videollm-features-") as tmp:
            folder = extract_for_model(pipeline.pretrained_info, path, tmp, args.device)
            feats = np.array(next(video_features(folder / f"{path.stem}.npy", 1.0 / step, pipeline.encoder_for(task).in_dim))[1])  # [T, Df]
    elif path.is_file() and path.suffix == ".npy":
        if not args.ignore_manifest:
            check_manifest(path, inputs, pipeline.pretrained_info, fps_given=args.fps is not None or args.step_seconds is not None)
        _, feats = next(video_features(path, 1.0 / step, pipeline.encoder_for(task).in_dim, bool(inputs.get("channels_first"))))
    else:
        raise DataError("expected a .npy feature file [T, Df] or a video file", where=str(path), hint="videollm stream MODEL video.npy")
    stream = pipeline.stream(task=task, query=args.query, step_seconds=step)
    head, state = pipeline.heads[task], dict[str, Any]()  # state: what the head keeps across the pushes of this stream
    units, t0 = 0, time.perf_counter()
    for i in range(feats.shape[0] + 1):
        final = i == feats.shape[0]
        outputs = stream.push(feats[i : i + 1]) if not final else stream.flush()
        if outputs is None and not final:
            continue
        for answer in unit_answers(outputs or {}, units, stream.units - units, args.top, inputs.get("class_names"),
                                   head=head, state=state, final=final):
            print(_json_line(answer) if args.json else _format_answer(answer), flush=True)
        units = stream.units
    rate = units / max(1e-9, time.perf_counter() - t0)
    print(f"{units} units in {time.perf_counter() - t0:.2f} s ({rate:.1f} units/s)", file=sys.stderr if args.json else sys.stdout)
    return 0


__all__ = ["add_model_commands", "cmd_export", "cmd_predict", "cmd_stream", "unit_answers"]
