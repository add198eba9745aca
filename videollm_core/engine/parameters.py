"""Parameter counts of a pipeline, and the dry run that builds one on the meta device to count them
without weights (`videollm-run --dry-run`, `videollm study --dry-run`, `summary.json`)."""
from __future__ import annotations

from typing import Any


def count_parameters(model: Any) -> dict[str, Any]:
    """`{"components": {NAME: {"total", "trainable"}}, "total", "trainable"}` of a [`VideoLLM`][videollm_core.pipeline.VideoLLM]
    (shared parameters counted once in the totals)."""
    def count(params: Any) -> dict[str, int]:
        unique = {id(p): p for p in params}.values()
        return {"total": sum(p.numel() for p in unique), "trainable": sum(p.numel() for p in unique if p.requires_grad)}

    comps = {name: count(module.parameters()) for name, module in model.components().items()}
    return {"components": comps, **count(model.parameters())}


def dry_run(cfg: Any, registries: Any = None) -> dict[str, Any]:
    """Build the pipeline of a validated config on the meta device (no weights, no download) and count its parameters."""
    from ..head_args import resolve_head_args
    from ..pipeline import build_pipeline
    from ..plugins import REGISTRIES

    registries = registries if registries is not None else REGISTRIES
    return count_parameters(build_pipeline(cfg, head_args=resolve_head_args(cfg, registries), registries=registries, device="meta"))


__all__ = ["count_parameters", "dry_run"]
