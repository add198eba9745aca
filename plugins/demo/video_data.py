"""`videollm demo-data TASK --videos`: the demo data as mp4 clips, and a config that trains from pixels.

After `write_demo_data` has copied a task's demo tree,
`use_videos` renders every feature file the config's datasets read as a clip
(`videos`: `DIR/data/videos/<video_id>.mp4`, one frame per feature step, 64 x 64
H.264) and rewrites the config so that the datasets read the clips
(`features: {type: VideoFrames, dir: DIR/data/videos, size: 32}`: pixel rows, one per
step) and the model's encoder is a `FrameEncoder`
over a small randomly initialised ViT (`DEMO_BACKBONE`, 32 x 32 input, 8 x 8 patches,
frozen as every frame backbone). The clips carry the same signal as the features, so the
config trains in minutes on a CPU, and `videollm demo MODEL` can then play any clip.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from videollm_core.errors import ConfigError

from .videos import write_demo_videos

#: the frame backbone of demo video configs: a 1-layer ViT at random init (about 70 k parameters).
DEMO_BACKBONE: dict[str, Any] = {"model_type": "vit", "hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                                 "intermediate_size": 128, "image_size": 32, "patch_size": 8}
#: side in pixels of the rows the datasets read (the backbone's `image_size`).
ROW_SIZE = 32
#: encoder keys kept from the example's feature encoder (how frames become units).
UNIT_KEYS = ("unit_size", "stride", "pooling", "drop_partial")


def use_videos(raw: dict[str, Any], entries: list[tuple[str, dict[str, Any]]], data: Path) -> list[Path]:
    """Render the clips of `entries` (`[(YAML path, dataset entry)]` of `raw`) under `data/videos`
    and rewrite `raw` (in place) to train from them; returns the clips written.

    Raises:
        ConfigError: a dataset that does not read a `features_dir` of `.npy` files, or a
            config whose encoder is not one per model (`model.encoder`).
    """
    from videollm_core.plugins import REGISTRIES

    videos = data / "videos"
    written: list[Path] = []
    rates: set[float] = set()
    done: set[Path] = set()
    for where, entry in entries:
        folder = Path(str(entry.get("features_dir", "")))
        if "features_dir" not in entry or not folder.is_dir():
            raise ConfigError("demo videos are rendered from a features_dir of <video_id>.npy files, and this dataset has none",
                              where=where, hint="pick a task whose demo data are .npy feature files (e.g. oad)")
        cls = REGISTRIES.datasets.lookup(entry["type"], where=f"{where}.type")
        fps = float(cls(**{k: v for k, v in entry.items() if k != "type"}).reading()["fps"])  # steps per second
        rates.add(fps)
        if folder.resolve() not in done:
            done.add(folder.resolve())
            feats = {p.stem: np.load(p) for p in sorted(folder.glob("*.npy"))}
            written += write_demo_videos(feats, fps, videos)
        entry.pop("features_dir")
        entry["features"] = {"type": "VideoFrames", "dir": str(videos), "size": ROW_SIZE}
    model = raw.get("model") or {}
    encoder = model.get("encoder")
    if not isinstance(encoder, dict):
        raise ConfigError("demo videos need one encoder for the model", where="model.encoder",
                          hint="use a single-encoder example config")
    model["encoder"] = {"type": "FrameEncoder", "backbone": {"config": dict(DEMO_BACKBONE)}, "frame_rate": max(rates),
                        "frame_feature": "mean", **{k: encoder[k] for k in UNIT_KEYS if k in encoder}}
    return written


__all__ = ["DEMO_BACKBONE", "ROW_SIZE", "use_videos"]
