"""Full trainable weights for a checkpoint, whatever engine `accelerate launch` chose.

Under DDP (or one process) every process holds the whole model, so the trainable weights
are read from the pipeline directly. Under FSDP or DeepSpeed ZeRO-3 each process holds a
shard: `accelerator.get_state_dict` gathers the full state (a collective call: every
process must make it; FSDP gathers onto the main process's CPU, ZeRO-3 needs
`zero3_save_16bit_model: true`), and only the trainable entries are kept. A checkpoint is
then a plain `trainable.safetensors` that `videollm export` reads on one process.
"""
from __future__ import annotations

from typing import Any

import torch

from ..errors import ConfigError

#: `accelerate` engines whose processes hold only a shard of the model.
SHARDED = ("FSDP", "DEEPSPEED")


def is_sharded(accelerator: Any) -> bool:
    """True when the model's parameters are split over the processes (FSDP, DeepSpeed)."""
    return getattr(accelerator.distributed_type, "value", str(accelerator.distributed_type)) in SHARDED


def trainable_state_for_save(accelerator: Any, model: Any, pipeline: Any) -> dict[str, torch.Tensor]:
    """`{name: tensor}` of the pipeline's trainable weights, full (not sharded), on the main process.

    Call it on every process; processes other than the main one may get an empty dict.

    Args:
        accelerator: the run's `Accelerator`.
        model: the prepared (maybe wrapped) model.
        pipeline: the unwrapped [`VideoLLM`][videollm_core.pipeline.VideoLLM] (trainable names).
    """
    if not is_sharded(accelerator):
        return pipeline.trainable_state_dict()
    names = set(pipeline.trainable_parameters())
    try:
        full = accelerator.get_state_dict(model, unwrap=True) or {}
    except ValueError as e:  # ZeRO-3 without zero3_save_16bit_model
        raise ConfigError(f"cannot gather the sharded weights for the checkpoint: {e}", where="accelerate config",
                          hint="set deepspeed_config.zero3_save_16bit_model: true (examples/accelerate/deepspeed_zero3.yaml)") from e
    return {n: t.detach() for n, t in full.items() if n in names}


__all__ = ["SHARDED", "is_sharded", "trainable_state_for_save"]
