"""FrameEncoder: real video -> frozen image backbone per frame -> temporal units.

The paper's short-term visual encoder is frozen; here it is any transformers vision
model (ViT, CLIP vision tower, DINOv2, ...) loaded from `pretrained:` or built at
random from `config:`. Frames come from the files named in `meta[i]["video_path"]`
(decoded with PyAV, see `video`) or from pixels in `VideoBatch.features`.
Per-frame embeddings are unitized exactly as `TemporalUnitEncoder` does.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from videollm_core import ConfigError, DataError, Encoder, EncoderStream, TokenSequence, VideoBatch

from ..hf_models import freeze, load_hf_model
from .unitization import TemporalUnitEncoder
from .video import read_video_frames

BACKBONE_KEYS = ("pretrained", "config", "model_class")
FRAME_FEATURES = ("pooler", "cls", "mean")


class FrameEncoder(Encoder):
    """Frozen transformers image backbone per sampled frame, then temporal-wise unitization.

    Args:
        backbone: `{pretrained: DIR_OR_NAME}` or `{config: {model_type: vit, ...}}`
            (random init), optionally `model_class` (e.g. `CLIPVisionModel`).
        frame_rate: frames sampled per second from video files.
        unit_size, stride, pooling, out_dim, drop_partial: as
            `TemporalUnitEncoder`, counted in sampled frames.
        image_size: side in pixels frames are resized to (default: the backbone
            config's `image_size`, else 224).
        frame_feature: per-frame embedding: `pooler` (the model's pooled output,
            falling back to CLS when it has none), `cls` (first token of the last
            hidden state) or `mean` (mean over the last hidden state's tokens).
        image_mean, image_std: RGB normalisation (default: the `preprocessor_config.json`
            of a pretrained directory, else 0.5 / 0.5).
        chunk_size: frames per backbone call.

    `in_dim` is the backbone's embedding size `Hv` (what the unitizer pools).

    `forward`: a [`VideoBatch`][videollm_core.types.VideoBatch] whose `meta[i]["video_path"]` names a video
    file (`features` may be empty, see `video_batch_from_paths`), or whose
    `features` are pixels `[B, T, C, H, W]` (uint8 0..255 or float 0..1, RGB) or pixel
    rows `[B, T, C*S*S]` (float 0..1, what a dataset given `videos_dir:` yields, see
    `VideoFrames`) with `timestamps [B, T, 2]` s -> `TokenSequence([B, N, out_dim], [B, N], [B, N, 2] s)`.
    """

    @classmethod
    def input_dim(cls, cfg: dict) -> None:
        """`None`: the encoder reads pixels or video files, so datasets have no feature dim to check."""
        return None

    def __init__(
        self,
        backbone: dict,
        frame_rate: float = 1.0,
        unit_size: int = 1,
        stride: int | None = None,
        pooling: Literal["mean", "max", "attention"] = "mean",
        out_dim: int | None = None,
        drop_partial: bool = False,
        image_size: int | None = None,
        frame_feature: Literal["pooler", "cls", "mean"] = "pooler",
        image_mean: Sequence[float] | None = None,
        image_std: Sequence[float] | None = None,
        chunk_size: int = 32,
    ):
        super().__init__()
        name = type(self).__name__
        if not isinstance(backbone, dict) or set(backbone) - set(BACKBONE_KEYS):
            raise ConfigError(f"backbone must be a mapping with keys among {', '.join(BACKBONE_KEYS)}, got {backbone!r}",
                              where=f"{name}.backbone", hint="e.g. backbone: {pretrained: /models/clip-vit-b16, model_class: CLIPVisionModel}")
        if not frame_rate or frame_rate <= 0:
            raise ConfigError(f"frame_rate must be > 0 frames per second, got {frame_rate!r}", where=f"{name}.frame_rate")
        if frame_feature not in FRAME_FEATURES:
            raise ConfigError(f"unknown frame_feature {frame_feature!r}", where=f"{name}.frame_feature",
                              hint=f"one of {', '.join(FRAME_FEATURES)}")
        self.backbone = freeze(load_hf_model(backbone.get("pretrained"), backbone.get("config"), backbone.get("model_class"),
                                             where=f"{name}.backbone"))
        cfg = self.backbone.config
        cfg = getattr(cfg, "vision_config", None) or cfg  # a full CLIP-style model: its vision tower's config
        hidden = getattr(cfg, "hidden_size", None) or (getattr(cfg, "hidden_sizes", None) or [None])[-1]
        if not isinstance(hidden, int):
            raise ConfigError(f"cannot tell the embedding size of backbone {type(self.backbone).__name__}",
                              where=f"{name}.backbone", hint="use a vision model whose config has hidden_size")
        self.frame_rate = float(frame_rate)
        self.frame_feature = frame_feature
        self.image_size = int(image_size or getattr(cfg, "image_size", None) or 224)
        self.num_channels = int(getattr(cfg, "num_channels", 3))
        self.chunk_size = int(chunk_size)
        mean, std = _normalisation(backbone.get("pretrained"), image_mean, image_std, self.num_channels)
        self.register_buffer("image_mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("image_std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        self.unitizer = TemporalUnitEncoder(hidden, unit_size=unit_size, stride=stride, pooling=pooling,
                                            out_dim=out_dim, drop_partial=drop_partial)
        self.in_dim = hidden
        self.out_dim = self.unitizer.out_dim

    def train(self, mode: bool = True) -> "FrameEncoder":
        """Train mode for the unitizer only: the backbone stays frozen in eval mode."""
        super().train(mode)
        self.backbone.eval()
        return self

    # -- frames -> per-frame embeddings --------------------------------------------
    @torch.no_grad()
    def embed_frames(self, pixels: Tensor) -> Tensor:
        """`pixels [T, C, H, W]` (uint8 0..255 or float 0..1) -> frame embeddings `[T, in_dim]`."""
        if pixels.dim() != 4 or pixels.shape[1] != self.num_channels:
            raise DataError(f"pixels must be [T, C={self.num_channels}, H, W], got {list(pixels.shape)}",
                            where=f"{type(self).__name__} input", hint="RGB frames, channels first")
        device = self.image_mean.device
        out = []
        for chunk in pixels.split(self.chunk_size):
            x = chunk.to(device)
            x = x.float() / 255.0 if not x.is_floating_point() else x.float()
            if x.shape[-2:] != (self.image_size, self.image_size):
                x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
            x = (x - self.image_mean) / self.image_std
            out.append(self._frame_feature(self.backbone(pixel_values=x.to(self._dtype()))))
        if not out:
            return torch.zeros(0, self.in_dim, device=device)
        return torch.cat(out).float()

    def _dtype(self) -> torch.dtype:
        return next(self.backbone.parameters()).dtype

    def _frame_feature(self, output: Any) -> Tensor:
        pooled = getattr(output, "pooler_output", None)
        if self.frame_feature == "pooler" and pooled is not None:
            return pooled.flatten(1)
        hidden = output.last_hidden_state
        if hidden.dim() == 4:  # convolutional backbones: [T, C, h, w]
            return hidden.mean(dim=(-2, -1))
        return hidden.mean(1) if self.frame_feature == "mean" else hidden[:, 0]

    # -- batch -------------------------------------------------------------------
    def forward(self, batch: VideoBatch) -> TokenSequence:
        """Video files or pixels `[B, T, C, H, W]` -> `TokenSequence([B, N, out_dim], [B, N], [B, N, 2] s)`."""
        pixels = batch.features if batch.features.dim() == 5 else self._pixel_rows(batch)
        if pixels is not None:
            feats = [self.embed_frames(pixels[i][batch.mask[i]]) for i in range(batch.batch_size)]
            times = [batch.timestamps[i][batch.mask[i]] for i in range(batch.batch_size)]
        else:
            paths = [m.get("video_path") if isinstance(m, dict) else None for m in batch.meta]
            if len(paths) != batch.batch_size or any(p is None for p in paths):
                raise DataError("FrameEncoder needs pixels [B, T, C, H, W] in features or meta[i]['video_path'] for every video",
                                where="VideoBatch", hint="build the batch with video_batch_from_paths(paths)")
            feats, times = [], []
            for path in paths:
                frames, ts, _ = read_video_frames(path, self.frame_rate)
                feats.append(self.embed_frames(frames.permute(0, 3, 1, 2)))
                times.append(ts)
        return self.unitizer(_padded(feats, times, batch))

    def _pixel_rows(self, batch: VideoBatch) -> Tensor | None:
        """`features [B, T, C*S*S]` as images `[B, T, C, S, S]` when no video file is named, else None."""
        if batch.features.dim() != 3 or any(isinstance(m, dict) and m.get("video_path") for m in batch.meta):
            return None
        b, t, d = batch.features.shape
        side = math.isqrt(d // self.num_channels) if d % self.num_channels == 0 else 0
        if side == 0 or self.num_channels * side * side != d:
            raise DataError(f"features of dim {d} are not pixel rows [T, {self.num_channels}*S*S], and no meta[i]['video_path'] names a video file",
                            where="FrameEncoder input", hint="give the dataset videos_dir: (or build the batch with video_batch_from_paths)")
        return batch.features.view(b, t, self.num_channels, side, side)

    def open_stream(self) -> "FrameStream":
        """An incremental encoder for one video: pixels in, completed units out."""
        return FrameStream(self)


def _padded(feats: list[Tensor], times: list[Tensor], batch: VideoBatch) -> VideoBatch:
    """Right-pad per-video `[T_i, Hv]` embeddings and `[T_i, 2]` times into a batch."""
    b, t = len(feats), max((f.shape[0] for f in feats), default=0)
    dim, device = feats[0].shape[-1], feats[0].device
    features = torch.zeros(b, t, dim, device=device)
    mask = torch.zeros(b, t, dtype=torch.bool, device=device)
    timestamps = torch.zeros(b, t, 2, device=device)
    for i, (f, ts) in enumerate(zip(feats, times)):
        features[i, : f.shape[0]], mask[i, : f.shape[0]], timestamps[i, : f.shape[0]] = f, True, ts.to(device)
    return VideoBatch(features=features, mask=mask, timestamps=timestamps, queries=batch.queries, meta=batch.meta)


def _normalisation(pretrained: str | None, mean: Sequence[float] | None, std: Sequence[float] | None,
                   channels: int) -> tuple[list[float], list[float]]:
    """RGB mean/std: explicit values, else a pretrained directory's preprocessor config, else 0.5."""
    if (mean is None or std is None) and pretrained is not None:
        file = Path(str(pretrained)) / "preprocessor_config.json"
        if file.is_file():
            saved = json.loads(file.read_text(encoding="utf-8"))
            mean = mean if mean is not None else saved.get("image_mean")
            std = std if std is not None else saved.get("image_std")
    mean = list(mean) if mean is not None else [0.5] * channels
    std = list(std) if std is not None else [0.5] * channels
    if len(mean) != channels or len(std) != channels:
        raise ConfigError(f"image_mean/image_std need {channels} values, got {len(mean)} and {len(std)}",
                          where="FrameEncoder.image_mean", hint="one value per colour channel")
    return [float(v) for v in mean], [float(v) for v in std]


class FrameStream(EncoderStream):
    """Streaming `FrameEncoder` for one video: `push(pixels [T, C, H, W], timestamps [T, 2] s)`."""

    def __init__(self, encoder: FrameEncoder):
        self.encoder = encoder
        self.units = encoder.unitizer.open_stream()

    def push(self, features: Tensor, timestamps: Tensor) -> TokenSequence | None:
        """New frames -> completed units `[1, n, out_dim]` or None. Frames are pixels `[T, C, H, W]`
        or pixel rows `[T, C*S*S]` (float 0..1, what `VideoFrames` reads; `VideoStream.push` takes rows)."""
        if features.dim() == 2:
            d, c = features.shape[-1], self.encoder.num_channels
            side = math.isqrt(d // c)
            if c * side * side != d:
                raise DataError(f"rows of dim {d} are not pixel rows [T, {c}*S*S]", where="FrameEncoder stream",
                                hint="push frames [T, C, H, W] or rows of a square image")
            features = features.view(features.shape[0], c, side, side)
        return self.units.push(self.encoder.embed_frames(features), timestamps)

    def flush(self) -> TokenSequence | None:
        """End of the video: trailing partial units (see `UnitStream`)."""
        return self.units.flush()
