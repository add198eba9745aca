"""Serving the page safely: loopback by default, no share link, uploads in the page's own folder.

`serve` makes a private temporary folder, points Gradio's upload cache at it
(`GRADIO_TEMP_DIR`, before Gradio is imported), turns Gradio's usage analytics off (the page
works offline), checks that `host:port` can be bound (a clear error otherwise), builds the
page (`build_app`) and serves it until interrupted; the folder is removed on exit.
A share link (a public tunnel) opens only with `share=True`.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

from videollm_core.errors import ConfigError

from .model import DemoModel
from .uploads import Limits


def check_port(host: str, port: int) -> None:
    """Raise `ConfigError` unless `host:port` can be bound now."""
    if not 0 < port < 65536:
        raise ConfigError(f"port must be 1..65535, got {port}", where="--port")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ConfigError(f"cannot resolve host {host!r} ({e.strerror})", where="--host", hint="e.g. 127.0.0.1 or 0.0.0.0") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as e:
            raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror})", where="--port",
                              hint="pick a free port (--port 7861) or stop the program using it") from None


def serve(model_path: str, *, host: str = "127.0.0.1", port: int = 7860, task: str | None = None,
          limits: Limits | None = None, examples: list[Path] | None = None, max_sessions: int = 4,
          share: bool = False, quiet: bool = False) -> None:
    """Load `model_path` and serve its page on `host:port` until interrupted (blocks)."""
    limits = limits or Limits()
    check_port(host, port)
    for clip in examples or []:
        if not clip.is_file():
            raise ConfigError("no such demo clip", where=str(clip), hint="--examples takes video files or a folder of them")
    model = DemoModel.load(model_path, task)
    upload_dir = Path(tempfile.mkdtemp(prefix="videollm-demo-")).resolve()
    os.environ["GRADIO_TEMP_DIR"] = str(upload_dir)  # read when gradio is imported: uploads land here
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    try:
        import gradio.processing_utils as pu
        import gradio.utils as gu

        from .app import build_app, launch_kwargs

        if Path(getattr(pu, "DEFAULT_TEMP_DIR", upload_dir)).resolve() != upload_dir:  # gradio imported earlier
            pu.DEFAULT_TEMP_DIR = str(upload_dir)
        if hasattr(gu, "get_upload_folder") and Path(gu.get_upload_folder()).resolve() != upload_dir:
            raise ConfigError("gradio's upload folder is not the page's own", where="GRADIO_TEMP_DIR",
                              hint="start the page with `videollm demo` in a fresh process")
        app = build_app(model, limits, upload_dir, examples, max_sessions=max_sessions)
        app.queue(default_concurrency_limit=max_sessions)
        if not quiet:
            print(f"serving {model.name} ({model.describe()}) on http://{host}:{port} ; uploads in {upload_dir}", flush=True)
        app.launch(server_name=host, server_port=port, share=share, quiet=quiet, show_error=True,
                   footer_links=["api"], **launch_kwargs(limits))
    finally:
        shutil.rmtree(upload_dir, ignore_errors=True)


__all__ = ["check_port", "serve"]
