"""A model trained on the oad demo clips, and its live demo page running, for the tests of ``videollm demo``.

``demo_model`` does what the README's two commands do, from nothing: ``videollm demo-data oad
--videos --out D``, ``videollm-run D/config.yaml`` and ``videollm export`` (about two minutes
on 2 CPU cores). It is made once per test run: pytest-xdist workers share it through a lock
in the run's common temporary folder. ``demo_server`` starts ``videollm demo`` on a free
loopback port in a subprocess (one per worker) and stops it after the last test.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from live_server import free_port, wait_for

pytest.importorskip("av")
pytest.importorskip("gradio")

#: the server's upload cap in the tests (the demo clips are about 0.3 MB).
MAX_UPLOAD_MB = 1.0


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "videollm_core.cli", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"videollm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory) -> dict[str, Path]:
    """``{"root", "config", "model", "videos"}`` of the oad demo trained from its clips."""
    from filelock import FileLock

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    root = base / "live-demo-oad"
    paths = {"root": root, "config": root / "data" / "config.yaml", "model": root / "model", "videos": root / "data" / "data" / "videos"}
    env = {**os.environ, "VIDEOLLM_CACHE": str(base / "live-demo-cache"), "VIDEOLLM_QUIET": "1"}
    with FileLock(str(base / "live-demo-oad.lock")):
        if not (paths["model"] / "videollm.json").is_file():
            root.mkdir(parents=True, exist_ok=True)
            _cli("demo-data", "oad", "--videos", "--out", str(root / "data"), cwd=root, env=env)
            _cli("run", str(paths["config"]), "--work-dir", str(root / "work"), "--quiet", cwd=root, env=env)
            _cli("export", str(root / "work"), "--out", str(paths["model"]), "--name", "oad-demo-clips", cwd=root, env=env)
    return paths


@pytest.fixture(scope="session")
def demo_server(demo_model, tmp_path_factory) -> dict[str, object]:
    """``{"url", "process", "log", "clips"}``: ``videollm demo`` serving the trained model on 127.0.0.1."""
    port = free_port()
    log = tmp_path_factory.mktemp("demo-server") / "server.log"
    clips = sorted(demo_model["videos"].glob("*.mp4"))
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "videollm_core.cli", "demo", str(demo_model["model"]),
                                    "--port", str(port), "--examples", str(clips[-1]), "--max-upload-mb", str(MAX_UPLOAD_MB),
                                    "--max-video-s", "60"], stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(url, process, log)
        yield {"url": url, "process": process, "log": log, "clips": clips, "port": port, "max_upload_mb": MAX_UPLOAD_MB}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def reference(demo_model):
    """``reference(clip) -> timeline JSON``: the model's answers to ``clip`` computed in this process."""
    from videollm_plugins.live_demo.model import DemoModel
    from videollm_plugins.live_demo.session import answer_upload
    from videollm_plugins.live_demo.uploads import Limits

    model = DemoModel.load(str(demo_model["model"]))
    done: dict[Path, dict] = {}

    def get(clip: Path) -> dict:
        if clip not in done:
            *_, done[clip] = answer_upload(model, Limits(), video=clip)
        return done[clip]

    get.model = model
    return get
