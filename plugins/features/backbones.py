"""Frozen transformers vision backbones for `videollm extract`: frames (or clips) to one vector per step.

* Image towers (CLIP, SigLIP, ViT, DINOv2...): one pooled vector per sampled frame, through
  `videollm_plugins.encoders.FrameEncoder.embed_frames` (resize to the model's
  `image_size`, the `preprocessor_config.json`'s mean/std, `pooler_output`). A full
  two-tower checkpoint (`CLIPModel`, `SiglipModel`) loads its vision tower
  (`CLIPVisionModel`...).
* Video models (VideoMAE and others whose config has `num_frames`): one clip of
  `num_frames` frames per step, mean of the last hidden state's tokens (VideoMAE's
  `use_mean_pooling`).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from videollm_core.errors import ConfigError

from ..encoders.frame import FrameEncoder, _normalisation
from ..hf_models import freeze, load_hf_model


def backbone_config(name_or_dir: str) -> Any:
    """The checkpoint's transformers config; [`ConfigError`][videollm_core.errors.ConfigError] naming `--backbone` when it cannot be loaded."""
    import transformers

    try:
        return transformers.AutoConfig.from_pretrained(name_or_dir)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot load the backbone's config: {e}", where=f"--backbone {name_or_dir}",
                          hint="a local directory written by save_pretrained, or a hub name available offline") from e


def _vision_class(name_or_dir: str) -> str | None:
    """`CLIPVisionModel` for a `CLIPModel` checkpoint (and so on); None when the checkpoint is a vision model itself."""
    import transformers

    config = backbone_config(name_or_dir)
    arch = (getattr(config, "architectures", None) or [""])[0]
    if getattr(config, "vision_config", None) is not None and arch.endswith("Model"):
        candidate = arch[: -len("Model")] + "VisionModel"
        if hasattr(transformers, candidate):
            return candidate
    return None


def is_video_model(name_or_dir: str) -> bool:
    """True when the checkpoint's config has `num_frames` (a clip model such as VideoMAE)."""
    return isinstance(getattr(backbone_config(name_or_dir), "num_frames", None), int)


class ImageBackbone:
    """One vector per frame: `embed(frames [T, C, H, W] uint8) -> [T, D]` float32."""

    frames_per_step = 1

    def __init__(self, name_or_dir: str, batch_size: int, device: str):
        self.encoder = FrameEncoder({"pretrained": name_or_dir, "model_class": _vision_class(name_or_dir)},
                                    chunk_size=batch_size).to(device)
        self.model = self.encoder.backbone
        self.image_size, self.dim = self.encoder.image_size, self.encoder.in_dim

    def embed(self, frames: Tensor) -> Tensor:
        return self.encoder.embed_frames(frames).cpu()


class ClipBackbone:
    """One vector per clip of `num_frames` frames: `embed(frames [T*k, C, H, W] uint8) -> [T, D]` float32."""

    def __init__(self, name_or_dir: str, batch_size: int, device: str):
        self.model = freeze(load_hf_model(name_or_dir, None, where="--backbone")).to(device)
        cfg = self.model.config
        self.frames_per_step, self.image_size, self.dim = int(cfg.num_frames), int(cfg.image_size), int(cfg.hidden_size)
        mean, std = _normalisation(name_or_dir, None, None, int(getattr(cfg, "num_channels", 3)))
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1)
        self.batch_size, self.device = int(batch_size), device

    @torch.no_grad()
    def embed(self, frames: Tensor) -> Tensor:
        k = self.frames_per_step
        clips = frames.view(-1, k, *frames.shape[1:])
        out = []
        for chunk in clips.split(self.batch_size):
            x = chunk.flatten(0, 1).to(self.device).float() / 255.0
            if x.shape[-2:] != (self.image_size, self.image_size):
                x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
            x = ((x - self.mean) / self.std).view(chunk.shape[0], k, *x.shape[1:])
            out.append(self.model(pixel_values=x).last_hidden_state.mean(1).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, self.dim)


def load_backbone(name_or_dir: str, batch_size: int = 32, device: str = "cpu") -> Any:
    """The backbone of `name_or_dir`: `ClipBackbone` for video models, else `ImageBackbone`."""
    cls = ClipBackbone if is_video_model(name_or_dir) else ImageBackbone
    return cls(name_or_dir, batch_size, device)


__all__ = ["load_backbone", "ImageBackbone", "ClipBackbone", "is_video_model"]
