"""A trained pipeline as a folder: `save_pretrained` / `from_pretrained` (the transformers/peft convention).

Layout of a pretrained folder:

    config.yaml                 the model part of the config: `model` (every head with its
                                sizes), the task(s) with prompt and metric (with the class
                                tables the metric needs); no data, so nothing else is needed
    model.safetensors           every trainable weight (translator, heads, projections, tuner
                                or partial/full LLM weights), plus the frozen weights of any
                                component that has no `pretrained:` name to reload them from
                                (all of the LLM's when it was built from `config:`)
    adapter_config.json         PEFT adapter in peft's own format (when the LLM is peft-tuned),
    adapter_model.safetensors   loadable with `peft.PeftModel.from_pretrained(base_llm, DIR)`
    videollm.json               format, videollm-core version, base LLM name and revision,
                                feature extraction backbone (when known), step, scores
    README.md                   model card with YAML front matter (`library_name: videollm-core`)
    tables/                     copies of the files metric arguments name (`actions.csv`...), when any

Tensors that share storage (tied embeddings) are written once. Nothing is unpickled.

This module is the one implementation: `VideoLLM.save_pretrained` / `VideoLLM.from_pretrained` /
`push_to_hub` (`huggingface_hub.ModelHubMixin` on [`VideoLLM`][videollm_core.pipeline.VideoLLM])
call [`save_pretrained`][videollm_core.engine.pretrained.save_pretrained] and [`load_pretrained`][videollm_core.engine.pretrained.load_pretrained]; `videollm export` calls
[`save_pretrained`][videollm_core.engine.pretrained.save_pretrained] with the run's scores; `from_pretrained` is `VideoLLM.from_pretrained`.
"""
from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Any, Mapping

import torch

from ..errors import ConfigError, DataError, PathError
from ..pipeline import VideoLLM, build_pipeline


log = logging.getLogger("videollm")

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "model.safetensors"
META_FILE = "videollm.json"
CARD_FILE = "README.md"
ADAPTER_CONFIG = "adapter_config.json"
TABLES_DIR = "tables"
FORMAT_VERSION = 1
#: `videollm.json` keys the writer sets itself (the rest is `info` and travels with a re-save).
WRITER_KEYS = ("format", "videollm_core", "tasks", "base_model")
#: components of the pipeline and the config key each is built from.
COMPONENT_KEYS = {"encoder": "encoder", "text_encoder": "text_encoder", "translator": "translator", "llm": "llm"}


def is_pretrained_dir(path: str | os.PathLike) -> bool:
    """True when `path` is a folder written by [`save_pretrained`][videollm_core.engine.pretrained.save_pretrained]."""
    p = Path(path)
    return (p / CONFIG_FILE).is_file() and (p / WEIGHTS_FILE).is_file() and (p / META_FILE).is_file()


# -- the config -----------------------------------------------------------------
def model_config(cfg: Mapping[str, Any], head_args: Mapping[str, Mapping[str, Any]],
                 metric_args: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The model part of a resolved config, standalone: heads carry their sizes, metrics their tables.

    Args:
        cfg: the run's resolved config.
        head_args: `{task: dataset.head_args()}` (the config's own values win).
        metric_args: `{task: dataset.metric_args()}` (the config's own values win).
    """
    from ..task_spec import OWN_MODEL_KEYS, task_specs

    metric_args = metric_args or {}

    def merged(own: Mapping[str, Any] | None, defaults: Mapping[str, Any]) -> dict[str, Any] | None:
        if own is None:
            return None
        own = dict(copy.deepcopy(own))
        return {"type": own.pop("type"), **copy.deepcopy(dict(defaults)), **own}

    model = copy.deepcopy(dict(cfg["model"]))
    out: dict[str, Any] = {"seed": cfg.get("seed", 0)}
    specs = task_specs(cfg)
    if cfg.get("tasks"):
        out["model"] = model
        out["tasks"] = []
        for spec in specs:
            item: dict[str, Any] = {"name": spec.name, "head": merged(spec.head, head_args.get(spec.name, {}))}
            if spec.prompt:
                item["prompt"] = spec.prompt
            if spec.metric:
                item["metric"] = merged(spec.metric, metric_args.get(spec.name, {}))
            item.update({key: copy.deepcopy(getattr(spec, key)) for key in OWN_MODEL_KEYS if getattr(spec, key) is not None})
            out["tasks"].append(item)
    else:
        spec = specs[0]
        model["head"] = merged(spec.head, head_args.get(spec.name, {}))
        out["model"] = model
        if spec.metric:
            out["metric"] = merged(spec.metric, metric_args.get(spec.name, {}))
    return out


def _named_source(cfg_model: Mapping[str, Any], key: str) -> str | None:
    """The `pretrained:` name or path a component reloads its frozen weights from, if any."""
    part = cfg_model.get(key)
    return part.get("pretrained") if isinstance(part, Mapping) and part.get("pretrained") else None


def base_model_info(pipeline: VideoLLM, cfg_model: Mapping[str, Any]) -> dict[str, Any] | None:
    """`{"name_or_path", "revision"}` of the base LLM, or None when it was built from `config:`."""
    name = _named_source(cfg_model, "llm")
    if name is None:
        return None
    revision = getattr(getattr(pipeline.llm, "config", None), "_commit_hash", None)
    return {"name_or_path": str(name), "revision": revision}


# -- weights ----------------------------------------------------------------------
def weights_to_save(pipeline: VideoLLM, cfg_model: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """`name -> tensor`: trainable weights, plus frozen ones no `pretrained:` name can restore.

    Each storage is written once (the first name that holds it), so tied weights stay tied;
    a frozen weight of a named component is left out under every name that reaches it.
    """
    def key(t: torch.Tensor) -> tuple[int, int, tuple[int, ...]]:
        return (t.untyped_storage().data_ptr(), int(t.storage_offset()), tuple(t.shape))

    trainable = {n for n, p in pipeline.named_parameters() if p.requires_grad}
    named = {attr for attr, k in COMPONENT_KEYS.items() if _named_source(cfg_model, k)}
    state = pipeline.state_dict(keep_vars=True)
    restorable = {key(t) for n, t in state.items() if n.split(".", 1)[0] in named and n not in trainable
                  and t.device.type != "meta"}
    out: dict[str, torch.Tensor] = {}
    seen: set[tuple[int, int, tuple[int, ...]]] = set(restorable)
    for name, tensor in state.items():
        if name.split(".", 1)[0] in named and name not in trainable:
            continue
        if tensor.device.type == "meta":
            raise DataError(f"{name} is on the meta device: there are no weights to save", where="save_pretrained",
                            hint="build the pipeline on a real device (cpu or cuda)")
        if key(tensor) in seen:
            continue
        seen.add(key(tensor))
        out[name] = tensor.detach()
    return out


def load_pretrained_weights(pipeline: VideoLLM, directory: str | os.PathLike) -> None:
    """Load `model.safetensors` of a pretrained folder into `pipeline` (built from its config).

    Raises:
        DataError: the file is damaged, holds a weight the pipeline lacks or of another
            shape, or lacks a trainable weight of the pipeline.
    """
    from . import checkpoint as ckpt

    path = Path(directory) / WEIGHTS_FILE
    state = ckpt.load_weights(path)
    own = pipeline.state_dict(keep_vars=True)
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{n}: {list(state[n].shape)} in the file, {list(own[n].shape)} in the model" for n in state
              if n in own and tuple(state[n].shape) != tuple(own[n].shape)]
    if unexpected or shapes:
        raise DataError(f"the weights do not fit the model built from {CONFIG_FILE}: "
                        + "; ".join([f"unexpected {unexpected[:5]}"] * bool(unexpected) + shapes[:5]), where=str(path),
                        hint="load a folder written by save_pretrained / videollm export with this config")
    storages = {(t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape)) for n, t in own.items() if n in state}
    missing = [n for n, p in pipeline.named_parameters(remove_duplicate=False) if p.requires_grad and n not in state
               and (p.untyped_storage().data_ptr(), p.storage_offset(), tuple(p.shape)) not in storages]
    if missing:
        raise DataError(f"{len(missing)} trainable weight(s) missing from the file, e.g. {missing[:3]}", where=str(path),
                        hint="the folder was written for another model config")
    pipeline.load_state_dict(state, strict=False)


# -- class tables the metrics read -----------------------------------------------------
def _metric_configs(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The metric mappings of a standalone model config (single- or multi-task form)."""
    found = [cfg.get("metric")] + [t.get("metric") for t in cfg.get("tasks") or []]
    return [m for m in found if isinstance(m, dict)]


def copy_metric_files(cfg: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """Copy the files a metric argument names (an `actions.csv`, a `data_info.json`...) into
    `folder/tables/` and point the config at them (`tables/NAME`, relative to the folder),
    so the folder formats predictions on a machine without the dataset."""
    import shutil

    out = copy.deepcopy(dict(cfg))
    for metric in _metric_configs(out):
        for key, value in list(metric.items()):
            if key != "type" and isinstance(value, str) and Path(value).is_file():
                target = Path(TABLES_DIR) / f"{metric['type']}_{key}{Path(value).suffix}"
                (folder / TABLES_DIR).mkdir(exist_ok=True)
                shutil.copyfile(value, folder / target)
                metric[key] = target.as_posix()
    return out


def localize_metric_files(cfg: Any, folder: Path) -> None:
    """Point `tables/NAME` metric arguments of a loaded folder's config at the folder's copies (in place)."""
    for metric in _metric_configs(cfg):
        for key, value in list(metric.items()):
            if isinstance(value, str) and value.startswith(f"{TABLES_DIR}/") and (folder / value).is_file():
                metric[key] = str(folder / value)


# -- saving -----------------------------------------------------------------------
def check_target(directory: str | os.PathLike) -> Path:
    """`directory` as the place of a model folder: new, empty, or a model folder (it is replaced whole).

    Raises:
        PathError: it is a file, or a folder holding something other than a model folder.
    """
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise PathError("is a file; a model folder is written here", where=str(path), hint="choose a folder path")
    if path.is_dir() and any(path.iterdir()) and not is_pretrained_dir(path):
        raise PathError("holds files that are not a videollm-core model folder, and saving replaces the whole folder",
                        where=str(path), hint="save into a new or empty folder, or move those files away first")
    return path


def save_pretrained(pipeline: VideoLLM, directory: str | os.PathLike, *, config: Mapping[str, Any] | None = None,
                    **info: Any) -> Path:
    """Write `pipeline` as a pretrained folder (replaced atomically when it exists) that
    [`load_pretrained`][videollm_core.engine.pretrained.load_pretrained] (`VideoLLM.from_pretrained`) reloads.

    Args:
        pipeline: the (trained) pipeline.
        directory: the folder to write: new, empty, or a model folder (`check_target`).
        config: the standalone model config (`model_config`; a config whose heads
            already hold their sizes works as it is). Default: the config the pipeline was
            built from (`build_pipeline`, or the folder's for a loaded pipeline), its heads with their sizes.
        info: more for `videollm.json` and the model card: `step`, `metrics`
            (`{"TASK/KEY": value}`), `best` (`{"key", "value", "step"}`), `datasets`
            (names), `extraction` (a features manifest's `backbone` entry), `inputs`.
            Default: what a loaded pipeline's `pretrained_info` holds, so a re-saved model keeps it.

    Raises:
        ConfigError: no `config` and the pipeline was not built from one.
        PathError: `directory` cannot take a model folder.
    """
    from .files import atomic_dir

    check_target(directory)
    if config is None:
        if pipeline.config is None:
            raise ConfigError("this pipeline was not built from a config", where="save_pretrained",
                              hint="build it with build_pipeline(cfg), or pass config=")
        config = model_config(pipeline.config, pipeline.head_sizes)
    cfg = dict(config)
    info = {**{k: v for k, v in pipeline.pretrained_info.items() if k not in WRITER_KEYS}, **info}
    with atomic_dir(directory, "model folder") as tmp:
        _write_folder(pipeline, tmp, cfg, info)
    return Path(directory)


def _write_folder(pipeline: VideoLLM, tmp: Path, cfg: dict[str, Any], info: Mapping[str, Any] | None) -> None:
    import yaml

    from .. import __version__
    from .checkpoint import save_weights, write_json_atomic
    from ..config import plain_data
    from .model_card import write_model_card

    cfg = copy_metric_files(cfg, tmp)
    save_weights(weights_to_save(pipeline, cfg["model"]), tmp / WEIGHTS_FILE)
    peft_model: Any = pipeline.llm.model
    if hasattr(peft_model, "peft_config") and hasattr(peft_model, "save_pretrained"):
        peft_model.save_pretrained(str(tmp))  # adapter_config.json + adapter_model.safetensors (+ peft's README, replaced below)
    (tmp / CONFIG_FILE).write_text(yaml.safe_dump(plain_data(cfg), sort_keys=False), encoding="utf-8")
    meta = {"format": FORMAT_VERSION, "videollm_core": __version__, "tasks": list(pipeline.tasks),
            "base_model": base_model_info(pipeline, cfg["model"]), **plain_data(dict(info or {}))}
    write_json_atomic(tmp / META_FILE, meta)
    write_model_card(tmp / CARD_FILE, cfg, meta)


# -- loading ----------------------------------------------------------------------
def resolve_pretrained(name_or_path: str | os.PathLike, revision: str | None = None, **download: Any) -> Path:
    """A local pretrained folder, or a hub repo id downloaded with `huggingface_hub.snapshot_download`.

    Args:
        name_or_path: a folder written by [`save_pretrained`][videollm_core.engine.pretrained.save_pretrained], or a hub id `user/model`.
        revision: the hub revision (branch, tag or commit); ignored for a folder.
        download: more `snapshot_download` arguments (`cache_dir`, `force_download`,
            `local_files_only`, `token`).
    """
    path = Path(name_or_path)
    if path.is_dir():
        if not is_pretrained_dir(path):
            raise DataError(f"not a videollm-core model folder (needs {CONFIG_FILE}, {WEIGHTS_FILE} and {META_FILE})",
                            where=str(path), hint="write one with `videollm export WORK_DIR --out DIR` or VideoLLM.save_pretrained")
        return path
    if path.exists() or str(name_or_path).count("/") != 1:
        raise DataError("no such model folder", where=str(name_or_path),
                        hint="give a folder written by `videollm export` or a hub id such as user/model")
    try:
        from huggingface_hub import snapshot_download

        return resolve_pretrained(snapshot_download(str(name_or_path), revision=revision, **download))
    except DataError:
        raise
    except Exception as e:  # offline, unknown repo, no access
        raise DataError(f"cannot download {name_or_path!r} from the hub: {type(e).__name__}: {e}", where=str(name_or_path),
                        hint="check the repo id and the network, or download it and pass the folder") from e


def read_info(directory: str | os.PathLike) -> dict[str, Any]:
    """The folder's `videollm.json`, read as every JSON file is (`read_json`)
    and every field the framework reads checked for its type (`check_info`).

    Raises:
        ConfigError: written by a newer videollm-core (its `format`).
        DataError: unreadable, not JSON, or a field of the wrong type, naming the file and the key.
    """
    from ..paths import read_json
    from .model_info import check_info

    path = Path(directory) / META_FILE
    info = read_json(path, "model info", dict, "a JSON object {format, step, inputs, ...}")
    if isinstance(info.get("format"), int) and info["format"] > FORMAT_VERSION:
        raise ConfigError(f"written by a newer videollm-core (format {info['format']}, this one reads {FORMAT_VERSION})",
                          where=str(path), hint="upgrade videollm-core")
    return check_info(info, path)


def load_pretrained(name_or_path: str | os.PathLike, *, device: Any = None, registries: Any = None,
                    revision: str | None = None, **download: Any) -> VideoLLM:
    """Rebuild a pipeline from a pretrained folder (or hub id) and load its weights; in `eval()` mode.

    The pipeline's `config` attribute holds the folder's config and `pretrained_info`
    its `videollm.json`. `VideoLLM.from_pretrained` calls this.

    Args:
        name_or_path: a folder written by [`save_pretrained`][videollm_core.engine.pretrained.save_pretrained], or a hub id (`resolve_pretrained`).
        device: move the pipeline there (default: where it was built, the CPU).
        registries: where component names are looked up (default: the process-wide ones).
        revision, download: for a hub id (`resolve_pretrained`).
    """
    from ..config import load_config
    from ..plugins import configure_config
    from ..validation import validate_config
    from ..plugins import REGISTRIES

    folder = resolve_pretrained(name_or_path, revision, **download)
    info = read_info(folder)
    cfg = configure_config(load_config(folder / CONFIG_FILE))
    localize_metric_files(cfg, folder)
    config = validate_config(cfg, registries=registries or REGISTRIES)  # an edited config.yaml: errors at its YAML paths
    pipeline = build_pipeline(config, registries=registries or REGISTRIES, head_args={})
    load_pretrained_weights(pipeline, folder)
    if device is not None:
        pipeline.to(device)
    pipeline.config, pipeline.pretrained_info = cfg, info
    return pipeline.eval()


#: `videollm_core.from_pretrained`: the same as `VideoLLM.from_pretrained`.
from_pretrained = VideoLLM.from_pretrained

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "META_FILE", "CARD_FILE", "ADAPTER_CONFIG", "is_pretrained_dir", "model_config",
           "base_model_info", "weights_to_save", "load_pretrained_weights", "check_target", "save_pretrained",
           "resolve_pretrained", "read_info", "load_pretrained", "from_pretrained"]
