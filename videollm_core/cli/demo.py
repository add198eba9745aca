"""`videollm demo MODEL`: the live demo page (thin; the page lives in `live_demo`).

`videollm demo MODEL [--host 127.0.0.1] [--port 7860] [--task T] [--examples CLIP|DIR ...]
[--max-upload-mb 50] [--max-video-s 120] [--max-sessions 4] [--share]` serves a web page where
a user uploads a video (or picks a demo clip) and the model's answers appear in step with
playback. It listens on 127.0.0.1 unless `--host` says otherwise and opens a public share
link only with `--share`. A missing model folder, a model that cannot serve the page, a
port that cannot be bound or a missing `demo` extra exits with status 2 and one message.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError
from .data import _plugin_module
from .models import _positive_int

VIDEO_FILES = (".mp4", ".mkv", ".webm", ".avi", ".mov")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"expected a port number 1..65535, got {text!r}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _clips(paths: list[str]) -> list[Path]:
    """Video files named, and those inside folders named (sorted)."""
    clips: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            clips += sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_FILES)
        elif path.is_file():
            clips.append(path)
        else:
            raise ConfigError("no such file or folder", where=f"--examples {text}", hint="video files or a folder of them")
    return clips


def cmd_demo(args: argparse.Namespace) -> int:
    from .extras import require_extra

    require_extra("gradio", "videollm demo")
    require_extra("av", "videollm demo")
    server = _plugin_module("videollm_plugins.live_demo.server", "demo")
    uploads = _plugin_module("videollm_plugins.live_demo.uploads", "demo")
    limits = uploads.Limits(max_upload_mb=args.max_upload_mb, max_video_s=args.max_video_s)
    server.serve(args.model, host=args.host, port=args.port, task=args.task, limits=limits, examples=_clips(args.examples),
                 max_sessions=args.max_sessions, share=args.share, quiet=bool(getattr(args, "quiet", False)))
    return 0


def add_demo_command(sub: Any, add_common: Callable[..., None]) -> None:
    """Add `demo` to the `videollm` subcommands."""
    p = sub.add_parser("demo", help="a web page: upload a video, watch the model's answers on a timeline as it plays (extra: demo)")
    p.add_argument("model", help="a model folder (videollm export) or a hub id")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_port, default=7860, help="port (default 7860)")
    p.add_argument("--task", help="the task to answer (default: the model's only task)")
    p.add_argument("--examples", nargs="+", default=[], metavar="CLIP|DIR",
                   help="demo clips offered on the page (video files or folders of them, e.g. DIR/data/videos of demo-data --videos)")
    p.add_argument("--max-upload-mb", type=_positive, default=50.0, help="largest upload in MB (default 50)")
    p.add_argument("--max-video-s", type=_positive, default=120.0, help="longest video in seconds (default 120)")
    p.add_argument("--max-sessions", type=_positive_int, default=4, help="sessions answered at once (default 4; more wait in a queue)")
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    p.set_defaults(func=cmd_demo)
    add_common(p, suppress=True)


__all__ = ["add_demo_command", "cmd_demo"]
