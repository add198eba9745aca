"""The live demo page against playback: time from upload to the first answer, and units answered per second.

Runs `videollm demo` on the oad demo model trained from its clips (made first when `--demo-dir`
holds none: `videollm demo-data oad --videos`, `videollm-run`, `videollm export`, a few
minutes), then, through `gradio_client` as a browser session would (upload, then the
streamed answers):

- **first answer**: seconds from the start of the upload of a 10-second clip (cut from a
  validation clip) to the first streamed answers, over `--reps` new sessions (median, max);
- **keeping ahead**: units answered per second of the whole 10-s clip against the units the
  video plays per second (4: one unit per 0.25-s step), for 1 session and for 4 at once, and
  for a whole demo clip (about 40 s).

    python bench/demo_page.py                    # writes the "## Live demo page" section of docs/benchmarks.md
    python bench/demo_page.py --demo-dir /tmp/D --no-write
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP_S = 10.0


def _cli(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "videollm_core.cli", *args], cwd=cwd, check=True)


def demo_model(folder: Path) -> tuple[Path, Path]:
    """`(model folder, clips folder)` of the oad demo trained from its clips, made once in `folder`."""
    model, clips = folder / "model", folder / "data" / "data" / "videos"
    if not (model / "videollm.json").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        _cli("demo-data", "oad", "--videos", "--out", str(folder / "data"), cwd=folder)
        _cli("run", str(folder / "data" / "config.yaml"), "--work-dir", str(folder / "work"), "--quiet", cwd=folder)
        _cli("export", str(folder / "work"), "--out", str(model), "--name", "oad-demo-clips", cwd=folder)
    return model, clips


def cut_clip(source: Path, out: Path, seconds: float = CLIP_S) -> Path:
    """The first `seconds` of `source` (a demo clip, 4 frames per second) as a new mp4."""
    from videollm_plugins.demo.videos import write_video
    from videollm_plugins.encoders.video import read_video_frames

    frames, _, info = read_video_frames(source, 4.0)
    return write_video(out, frames[: int(seconds * 4)].numpy(), rate=4)


def serve(model: Path, port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "videollm_core.cli", "demo", str(model), "--port", str(port)],
                               stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"videollm demo exited:\n{log.read_text()}")
            time.sleep(0.5)
    process.kill()
    raise SystemExit("videollm demo did not start in 180 s")


def session(url: str, clip: Path) -> dict:
    """One new session: `{first_s, total_s, units, units_per_s}` (client-side seconds from the upload's start)."""
    import json

    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    t0 = time.perf_counter()
    job = client.submit(handle_file(str(clip)), None, "", api_name="/answer")
    first = None
    while not job.done():
        if first is None and job.outputs():
            first = time.perf_counter() - t0
        time.sleep(0.005)
    view = json.loads(job.result())
    total = time.perf_counter() - t0
    first = first if first is not None else total
    return {"first_s": first, "total_s": total, "units": view["units"], "units_per_s": view["units"] / total,
            "played_per_s": view["played_units_per_s"], "server_first_s": view["first_answer_s"],
            "server_units_per_s": view["units_per_s"], "duration": view["duration"]}


def render(single: list[dict], together: list[dict], long: list[dict], cores: int, load: float) -> str:
    firsts = [r["first_s"] for r in single]
    rate = statistics.median(r["units_per_s"] for r in single)
    rate4 = min(r["units_per_s"] for r in together)
    played = single[0]["played_per_s"]
    lines = ["## Live demo page (`bench/demo_page.py`)", "",
             f"`videollm demo` serving the oad demo model trained from its clips (`videollm demo-data oad --videos`, "
             f"150 steps), a {CLIP_S:g}-second clip (40 steps of 0.25 s, 64x64 H.264) sent through `gradio_client` as a "
             f"browser session sends it: upload, then the streamed answers. {cores} CPU cores ({platform.machine()}), "
             f"torch's default threads in the server, 1-minute load average {load:.1f} at the start; "
             f"all measured in one run of `python bench/demo_page.py`.", "",
             "| measure | value | target |", "| --- | ---: | ---: |",
             f"| upload to first answer, median of {len(firsts)} sessions (s) | {statistics.median(firsts):.2f} | < 2 |",
             f"| upload to first answer, slowest session (s) | {max(firsts):.2f} | |",
             f"| of which in the server: decoding + first push (median, s) | {statistics.median(r['server_first_s'] for r in single):.2f} | |",
             f"| upload to last answer, 1 session (median, s) | {statistics.median(r['total_s'] for r in single):.2f} | < {CLIP_S:g} (played) |",
             f"| units answered per second, 1 session (median) | {rate:.1f} | > {played:g} (played) |",
             f"| units answered per second, each of 4 sessions at once (slowest) | {rate4:.1f} | > {played:g} (played) |",
             f"| units answered per second, 1 session, a whole {long[0]['duration']:.0f}-s demo clip (median of {len(long)}) | "
             f"{statistics.median(r['units_per_s'] for r in long):.1f} | > {played:g} (played) |",
             f"| of which in the server (compute only, same clip) | {statistics.median(r['server_units_per_s'] for r in long):.1f} | |",
             f"| answered / played, 1 session | {rate / played:.1f}x | > 1x |",
             f"| answered / played, 4 sessions at once (slowest) | {rate4 / played:.1f}x | > 1x |", "",
             "Units answered per second count the whole clip from the start of its upload to the last answer "
             "(decoding, the frame backbone, the LLM and the head, and the transfer); the page draws each answer when "
             "the video's playback reaches the time it rests on, so the page keeps ahead of playback when the model "
             "answers faster than the video plays. The machine's cores are shared with other processes: rows move "
             "with its load from run to run (compare the rows of one run; rerun when one stands out).", ""]
    return "\n".join(lines)


def write_section(text: str, path: Path) -> None:
    """Replace (or append) the `## Live demo page` section of `path`, keeping the others."""
    old = path.read_text(encoding="utf-8")
    pattern = re.compile(r"^## Live demo page.*?\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text + "\n", old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    path.write_text(new, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo-dir", type=Path, default=Path(tempfile.gettempdir()) / "videollm-bench-demo-page")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    model, clips = demo_model(args.demo_dir)
    full = sorted(clips.glob("*.mp4"))[-1]
    clip = cut_clip(full, args.demo_dir / "clip10s.mp4")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    load = os.getloadavg()[0]
    process = serve(model, port, args.demo_dir / "server.log")
    try:
        url = f"http://127.0.0.1:{port}/"
        session(url, clip)  # warm-up: the first request pays for lazy imports
        single = [session(url, clip) for _ in range(args.reps)]
        with ThreadPoolExecutor(4) as pool:
            together = list(pool.map(lambda _: session(url, clip), range(4)))
        long = [session(url, full) for _ in range(3)]
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = render(single, together, long, os.cpu_count() or 0, load)
    print(text)
    if not args.no_write:
        write_section(text, ROOT / "docs" / "benchmarks.md")


if __name__ == "__main__":
    main()
