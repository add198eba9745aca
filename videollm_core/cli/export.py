"""``videollm export``: a run's checkpoint as a pretrained folder (see :mod:`videollm_core.engine.pretrained`).

The pipeline is rebuilt as the run built it (a :class:`~videollm_core.engine.runner.Runner` on the
run's resolved ``config.yaml``: same seed, same datasets for the head sizes), the
checkpoint's weights are loaded, and the folder records the head sizes and metric tables
the datasets supplied, the checkpoint's validation scores from ``metrics.jsonl``, the
dataset names, each task's input timing (``inputs``: feature steps per second ``fps`` and
the ``window`` seconds its datasets cut videos into) and the feature extraction backbone of
a features ``manifest.json``.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping

from ..engine import checkpoint as ckpt
from ..engine.model_info import check_info
from ..errors import ConfigError, UserError
from ..paths import read_json

log = logging.getLogger("videollm")

MANIFEST = "manifest.json"


def _feature_dirs(data_cfg: Mapping[str, Any]) -> list[Path]:
    """Folders a dataset config reads features from (``features_dir``, or a feature source's ``path``)."""
    out = []
    if data_cfg.get("features_dir"):
        out.append(Path(str(data_cfg["features_dir"])))
    features = data_cfg.get("features")
    if isinstance(features, str):
        out.append(Path(features))
    elif isinstance(features, Mapping):
        out += [Path(str(features[k])) for k in ("path", "root", "dir") if features.get(k)]
    return out


#: what a features manifest (``videollm extract``) records about how the features were made.
EXTRACTION_KEYS = ("backbone", "fps", "image_size", "frames_per_step", "dtype")


def extraction_backbone(specs: list[Any]) -> dict[str, Any] | None:
    """The extraction settings (:data:`EXTRACTION_KEYS`) of the first features ``manifest.json``
    with a ``backbone`` entry that the tasks' datasets read, else None."""
    for spec in specs:
        for dcfg in spec.data.values():
            for folder in _feature_dirs(dcfg):
                manifest = (folder if folder.is_dir() else folder.parent) / MANIFEST
                if manifest.is_file():
                    try:
                        data = read_json(manifest, "features manifest", dict)
                        if data.get("backbone") is not None:
                            extraction = {k: data[k] for k in EXTRACTION_KEYS if k in data}
                            check_info({"extraction": extraction}, manifest)  # what predict --videos will read
                            return extraction
                    except UserError as e:
                        log.warning("%s (not recorded in the model folder)", e.render())
    return None


def task_inputs(dataset: Any, dcfg: Any) -> dict[str, Any]:
    """What a model folder records of how a task's dataset read its data, so that ``videollm
    predict`` reads new data alike (``videollm.json`` ``inputs``): the dataset's
    :meth:`~videollm_core.data.VideoDataset.reading` (step rate, window, layout), its class
    names (``videollm stream`` names its answers), and for a dataset whose samples are anchored
    in an annotation file its config type and :meth:`~videollm_core.data.VideoDataset.settings`
    (``videollm predict --annotations FILE`` builds it again), and the type and settings of
    the feature source it read (``source``: e.g. ``{type: HDF5Features, key: c3d_features}``)."""
    inputs = dict(dataset.reading())
    names = dataset.class_names()
    if names:
        inputs["class_names"] = [str(n) for n in names]
    if type(dataset).annotations_arg and isinstance(dcfg, Mapping) and dcfg.get("type"):
        inputs["dataset"] = {"type": dcfg["type"], **dataset.settings()}
    features = dcfg.get("features") if isinstance(dcfg, Mapping) else None
    if isinstance(features, Mapping) and features.get("type"):  # a feature source: its type and settings, not its location
        from ..plugins import REGISTRIES

        cls = REGISTRIES.features.lookup(str(features["type"]), where="features")
        inputs["source"] = {k: v for k, v in features.items() if k not in (*cls.location_args, "fps")}
    return inputs


def run_scores(work_dir: Path, step: int) -> dict[str, float]:
    """The validation scores logged at ``step`` in ``metrics.jsonl`` (``{TASK/KEY: value}``)."""
    from ..engine.logs import read_metrics

    path = work_dir / "metrics.jsonl"
    scores: dict[str, float] = {}
    if path.is_file():
        for record in read_metrics(path):
            if record.get("split") == "val" and record.get("step") == step:
                scores = {k: v for k, v in record.items() if "/" in k and isinstance(v, (int, float))}
    return scores


def export_run(work_dir: str | os.PathLike, out: str | os.PathLike, checkpoint: str | os.PathLike = "best",
               name: str | None = None) -> Path:
    """Write the pretrained folder ``out`` from ``checkpoint`` (``best``, ``last`` or a ``step_*`` folder) of a run.

    Raises:
        ConfigError: ``work_dir`` is not a run's folder, or it has no checkpoint.
    """
    from ..config import load_config
    from ..plugins import configure_config
    from ..head_args import resolve_head_args
    from ..engine.pretrained import model_config, save_pretrained
    from ..engine.runner import Runner

    work_dir = Path(work_dir)
    if not (work_dir / "config.yaml").is_file():
        raise ConfigError("not a run's work dir (no config.yaml)", where=str(work_dir),
                          hint="pass the folder videollm-run trained into (the config's work_dir)")
    cfg = configure_config(load_config(work_dir / "config.yaml"))
    runner = Runner(cfg, work_dir=work_dir)
    path = runner.resolve_checkpoint(checkpoint)
    if path is None:
        raise ConfigError(f"no checkpoint in {runner.ckpt_root}", where=str(work_dir),
                          hint="train first (videollm-run CONFIG), or pass --checkpoint PATH")
    ckpt.verify_state_files(path)
    runner.load_weights(path)
    state = ckpt.read_json(path / ckpt.STATE_FILE)
    step = int(state["step"])
    head_args = resolve_head_args(cfg, runner.registries, dataset_for=runner._first_dataset)
    evaluated = {spec.name: runner.dataset(spec, "val") or runner._first_dataset(spec) for spec in runner.specs}
    metric_args = {spec.name: dict(evaluated[spec.name].metric_args()) for spec in runner.specs if spec.metric}
    inputs = {spec.name: task_inputs(evaluated[spec.name], spec.data.get("val") or next(iter(spec.data.values()), None))
              for spec in runner.specs}
    datasets = sorted({str(d.get("type")) for spec in runner.specs for d in spec.data.values()})
    info = {"name": name or work_dir.name, "step": step, "checkpoint": path.name, "metrics": run_scores(work_dir, step),
            "best": state.get("best"), "datasets": datasets, "extraction": extraction_backbone(runner.specs), "inputs": inputs}
    return save_pretrained(runner.pipeline, out, config=model_config(cfg, head_args, metric_args), **info)


__all__ = ["export_run", "extraction_backbone", "run_scores", "task_inputs", "MANIFEST", "EXTRACTION_KEYS"]
