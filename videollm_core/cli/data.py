"""``videollm extract`` and ``videollm demo-data``: the data commands (thin; the work lives in plugins).

``extract`` runs :class:`videollm_plugins.features.extract.Extraction` (videos to features,
see that module); ``demo-data`` writes a task's demo data in its benchmark's real layout
plus the ``config.yaml`` that reads it (:mod:`videollm_plugins.demo.export`). The plugin
modules are imported by name when a command runs, never when the kernel loads.
"""
from __future__ import annotations

import argparse
import importlib
from typing import Any, Callable

from ..errors import PluginError


def _plugin_module(name: str, command: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise PluginError(f"`videollm {command}` needs {name} ({e})", where=f"videollm {command}",
                          hint="reinstall videollm-core (the built-in plugins ship with it)") from e


def cmd_extract(args: argparse.Namespace) -> int:
    from .extras import require_extra

    require_extra("av", "videollm extract")  # videos are decoded with PyAV
    if args.format == "h5":
        require_extra("h5py", "videollm extract --format h5")
    extract = _plugin_module("videollm_plugins.features.extract", "extract")
    run = extract.Extraction(args.backbone, args.videos, args.out, args.fps, format=args.format, batch_size=args.batch_size,
                             device=args.device, strict=args.strict, progress=not args.quiet)
    stats = run.run()
    failed = stats["failed"]
    print(f"{stats['done']} video(s) extracted, {stats['skipped']} already done, {len(failed)} failed -> {run.manifest_path}")
    for name, message in failed.items():
        print(f"  failed: {name}: {message}")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    export = _plugin_module("videollm_plugins.demo.export", "demo-data")
    if args.videos:
        from .extras import require_extra

        require_extra("av", "videollm demo-data --videos")
    config = export.write_demo_data(args.task, args.out, videos=args.videos)
    clips = " (with mp4 clips under data/videos)" if args.videos else ""
    print(f"wrote the {args.task} demo data{clips} and {config}\nnext: videollm-run {config}")
    return 0


def add_data_commands(sub: Any, add_common: Callable[..., None]) -> None:
    """Add ``extract`` and ``demo-data`` to the ``videollm`` subcommands."""
    p = sub.add_parser("extract", help="videos to per-video features with a transformers vision backbone (resumable)")
    p.add_argument("--backbone", required=True, metavar="NAME_OR_DIR", help="hub name or save_pretrained folder (CLIP, SigLIP, ViT, DINOv2, VideoMAE...)")
    p.add_argument("--videos", required=True, metavar="DIR", help="folder of mp4/mkv/webm files; the output is named by each file's stem")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder: <stem>.npy (or features.h5) and manifest.json")
    p.add_argument("--fps", required=True, type=float, help="feature steps per second (step i covers [i/F, (i+1)/F) s)")
    p.add_argument("--format", default="npy", choices=("npy", "h5"), help="one .npy per video (default) or one features.h5")
    p.add_argument("--batch-size", type=int, default=32, help="frames (clips) per forward pass (default 32)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda:0 (default cpu)")
    p.add_argument("--strict", action="store_true", help="exit 2 when a video cannot be decoded (default: record it and go on)")
    p.set_defaults(func=cmd_extract)
    add_common(p, suppress=True)

    p = sub.add_parser("demo-data", help="write a task's demo data in the benchmark's real layout plus the config.yaml reading it")
    p.add_argument("task", help="a task with demo data, e.g. oad, qvhighlights (see `videollm list datasets`)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created)")
    p.add_argument("--videos", action="store_true",
                   help="also write the demo as short mp4 clips and a config that trains from them (FrameEncoder; for `videollm demo`)")
    p.set_defaults(func=cmd_demo_data)
    add_common(p, suppress=True)


__all__ = ["add_data_commands", "cmd_extract", "cmd_demo_data"]
