"""Head sizes of a config: what each task head receives besides `in_dim`.

A head's class counts (`num_classes`, `num_verbs`...) come from its dataset
([`head_args`][videollm_core.data.VideoDataset.head_args], read from the annotations) or from
the head's own config (`model.head.num_classes: 3807`); the config wins. One function,
`resolve_head_args`, serves the runner (which has the datasets), `build_pipeline`
without a runner and the dry run, so all three build the same heads.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from .errors import ConfigError, UserError
from .features import expected_feature_dim
from .plugins import REGISTRIES
from .registry import Registries

log = logging.getLogger("videollm")

#: the splits whose dataset supplies head sizes, in the order they are tried (as the runner does).
HEAD_ARG_SPLITS = ("train", "val", "test")


def missing_head_args(spec: Any, registries: Registries = REGISTRIES) -> list[str]:
    """Required constructor parameters of the task's head that its config leaves out (`in_dim` is supplied)."""
    from .signature import constructor_parameters

    head_cls = registries.heads.lookup(spec.head["type"], where=f"{spec.path('head')}.type")
    required = [n for n, p in constructor_parameters(head_cls).items() if p.default is p.empty]
    return [n for n in required if n not in spec.head and n != "in_dim"]


def build_task_dataset(cfg: Mapping[str, Any], spec: Any, split: str, registries: Registries = REGISTRIES) -> Any:
    """The dataset of `spec`'s `split`, built as the runner builds it (`feature_dim`, `on_error` supplied)."""
    return registries.datasets.build(
        spec.data[split], where=f"{spec.path('data')}.{split}",
        default_args={"feature_dim": expected_feature_dim(cfg, registries, spec),
                      "on_error": (cfg.get("data") or {}).get("on_error", "raise")})


def _from_config_data(cfg: Mapping[str, Any], spec: Any, registries: Registries, required: bool) -> dict[str, Any]:
    """`head_args()` of the task's first dataset when it may add to the head config.

    The dataset is built only when the head lacks a required argument or the dataset class
    supplies one the head config does not set; `{}` when it cannot be read and the head
    needs nothing from it.
    """
    missing = missing_head_args(spec, registries)
    split = next((s for s in HEAD_ARG_SPLITS if s in spec.data), None)
    cls = registries.datasets.get(spec.data[split].get("type")) if split else None
    provides = cls.provides_head_args if cls is not None else ()
    if split is None or not (set(provides) - set(spec.head)) and not missing:  # nothing the data could add
        if missing and required:
            raise ConfigError(f"the head needs {', '.join(missing)} and the task has no dataset to read it from",
                              where=spec.path("head"), hint=f"add {missing[0]}: N to {spec.path('head')}"
                              f" (or data.train/data.val whose dataset supplies it)")
        return {}
    try:
        return dict(build_task_dataset(cfg, spec, split, registries).head_args())
    except UserError as e:
        if not (missing and required):
            log.info("%s: head sizes from the config only (dataset not readable: %s)", spec.path("head"), e.message)
            return {}
        raise ConfigError(f"the head needs {', '.join(missing)}, which comes from the dataset, and the dataset cannot be read"
                          f" ({e.render()})", where=spec.path("head"),
                          hint=f"add {', '.join(f'{m}: N' for m in missing)} to {spec.path('head')}, or make "
                               f"{spec.path('data')}.{split} readable") from e


def resolve_head_args(cfg: Mapping[str, Any], registries: Registries = REGISTRIES, *,
                      dataset_for: Callable[[Any], Any] | None = None, required: bool = True) -> dict[str, dict[str, Any]]:
    """`{task: defaults for its head}`: the class counts a dataset supplies (tasks without any left out).

    Args:
        cfg: a validated config (single- or multi-task form; `data` may be absent).
        registries: where heads and datasets are looked up.
        dataset_for: `spec -> dataset` (the runner's own, already built datasets);
            without it each task's first dataset (train, val, test) is built from the
            config when its class supplies head arguments, and skipped when it cannot be
            read but the head config is complete (e.g. paper configs on the meta device).
        required: raise a [`ConfigError`][videollm_core.errors.ConfigError] naming what to add when a required head
            argument is neither in the config nor readable from data.
    """
    from .validation import task_specs

    out: dict[str, dict[str, Any]] = {}
    for spec in task_specs(cfg):
        if not isinstance(spec.head, Mapping) or "type" not in spec.head:
            continue  # build_pipeline reports the missing head
        if dataset_for is not None:
            out[spec.name] = dict(dataset_for(spec).head_args())
        else:
            out[spec.name] = _from_config_data(cfg, spec, registries, required)
    return {name: args for name, args in out.items() if args}


__all__ = ["resolve_head_args", "missing_head_args", "build_task_dataset", "HEAD_ARG_SPLITS"]
