"""`videollm extract` against the backbone's forward pass alone, on the same frames (CPU).

Writes ``--videos`` mp4 files with PyAV (``--seconds`` long, 25 fps, 320x240), saves a
randomly initialised ViT-B/16 (``ViTConfig()`` defaults: 12 layers, 768 dims, 224 px) with
``save_pretrained``, then times, in one process:

* ``extract_s``: :meth:`Extraction.run` over the folder (PyAV decoding and sampling at
  ``--fps``, resizing and normalising, the forward passes, atomic ``.npy`` writes, sha256,
  manifest), the model already loaded;
* ``forward_s``: the same model's forward passes alone on the same preprocessed frames,
  same batch size.

    python bench/extract.py [--videos 2 --seconds 6 --fps 2 --batch 8 --threads 2]

Prints one JSON line; the goal is ``overhead = extract_s / forward_s - 1`` under 0.25.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "features"))

from feature_layouts import write_mp4  # noqa: E402  (the tests' PyAV writer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import ViTConfig, ViTModel

    from videollm_plugins.encoders.video import read_video_frames
    from videollm_plugins.features.extract import Extraction

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(args.videos):
            write_mp4(tmp / "videos" / f"video{i:02d}.mp4", int(args.seconds * 25), rate=25, size=240, seed=i)
        torch.manual_seed(0)
        ViTModel(ViTConfig()).save_pretrained(tmp / "vit-b16")
        run = Extraction(str(tmp / "vit-b16"), tmp / "videos", tmp / "out", args.fps, batch_size=args.batch, progress=False)
        encoder = run.backbone.encoder

        start = time.perf_counter()
        stats = run.run()
        extract_s = time.perf_counter() - start
        assert stats["done"] == args.videos and not stats["failed"], stats

        # the same frames, preprocessed as the extractor does, through the forward pass alone
        pixels = []
        for video in sorted((tmp / "videos").iterdir()):
            frames, _, _ = read_video_frames(video, args.fps)
            x = torch.nn.functional.interpolate(frames.permute(0, 3, 1, 2).float() / 255.0, size=(224, 224), mode="bilinear",
                                                align_corners=False)
            pixels.append((x - encoder.image_mean) / encoder.image_std)
        model = encoder.backbone
        start = time.perf_counter()
        with torch.no_grad():
            for x in pixels:
                for chunk in x.split(args.batch):
                    model(pixel_values=chunk)
        forward_s = time.perf_counter() - start
        steps = sum(int(np.load(tmp / "out" / f"video{i:02d}.npy").shape[0]) for i in range(args.videos))
    print(json.dumps({"videos": args.videos, "steps": steps, "backbone": "ViT-B/16 random (86M)", "threads": args.threads,
                      "batch": args.batch, "extract_s": round(extract_s, 3), "forward_s": round(forward_s, 3),
                      "overhead": round(extract_s / forward_s - 1.0, 3)}))


if __name__ == "__main__":
    main()
