"""``videollm demo`` end to end: a model trained on the oad demo clips, served, played in Chromium and used by 4 sessions at once.

The model is trained from nothing as the README says (``demo-data oad --videos``, ``videollm-run``,
``videollm export``; see ``conftest.py``). "The right actions" are the detections of the model
that agree with the clip's ground truth (the demo annotations): the page must show them on its
timeline while the clip plays, never ahead of the playhead, and the model must have learned the
demo (several correct actions, far above the 1-in-40 of chance).
"""
from __future__ import annotations

import json
import os
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import yaml

from browser import console_errors

pytestmark = pytest.mark.slow
STEPS_PER_S = 4.0


@pytest.fixture(scope="module")
def ground_truth(demo_model, reference):
    """``{video_id: [label per feature step]}`` of the validation clips (the demo's annotations)."""
    from videollm_plugins.tasks.oad.dataset import EK100OADDataset

    cfg = yaml.safe_load(demo_model["config"].read_text())
    val = {k: v for k, v in cfg["data"]["val"].items() if k != "type"}
    dataset = EK100OADDataset(**{**val, "window": None})
    names = reference.model.class_names
    truth = {}
    for i in range(len(dataset)):
        sample = dataset[i]
        truth[sample["meta"]["video_id"]] = ["background" if k == 0 else names[k - 1] if k > 0 else None
                                             for k in sample["targets"]["action"].tolist()]
    return truth


def right_actions(view: dict, truth: list) -> tuple[set[str], float]:
    """The labels of the detections that mostly cover ground-truth steps of the same action, and the share of such detections."""
    right = []
    for d in view["detections"]:
        steps = [truth[j] for j in range(int(round(d["start"] * STEPS_PER_S)), int(round(d["end"] * STEPS_PER_S))) if j < len(truth)]
        right.append(bool(steps) and np.mean([s == d["label"] for s in steps]) >= 0.5)
    return {d["label"] for d, ok in zip(view["detections"], right) if ok}, float(np.mean(right)) if right else 0.0


def _js(driver, script: str):
    return driver.execute_script(script)


SHOWN = "return [...document.querySelectorAll('#vl-timeline .vl-det')].map(e => [e.dataset.label, parseFloat(e.dataset.start)])"
POSITION = "const v = document.querySelector('#vl-video video'); return v ? [v.currentTime, v.ended, v.readyState] : null"
DATA = "const e = document.querySelector('#vl-data textarea, #vl-data input'); return e ? e.value : ''"


def _open(driver, url: str) -> None:
    driver.get(url)
    deadline = time.monotonic() + 60
    while not _js(driver, "return !!document.querySelector('#vl-video input[type=file]')"):
        assert time.monotonic() < deadline, "the page never showed its video upload"
        time.sleep(0.2)


def _wait(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.mark.browser
def test_a_played_clip_shows_the_right_actions_on_its_timeline(chrome, demo_server, reference, ground_truth, tmp_path):
    clips = {c.stem: c for c in demo_server["clips"] if c.stem in ground_truth}
    scored = {vid: right_actions(reference(clip), ground_truth[vid]) for vid, clip in clips.items()}
    vid = max(scored, key=lambda v: (len(scored[v][0]), v))
    expected, precision = scored[vid]
    assert len(expected) >= 3 and precision >= 0.15, f"the demo model did not learn the clips: {scored}"
    full = reference(clips[vid])

    _open(chrome, demo_server["url"])
    chrome.find_element("css selector", "#vl-video input[type=file]").send_keys(str(clips[vid]))
    t0 = time.monotonic()
    _wait(lambda: '"answers"' in _js(chrome, DATA), 30, "the first answers")
    first_answer_s = time.monotonic() - t0
    _wait(lambda: (_js(chrome, POSITION) or [0, 0, 0])[2] >= 2, 30, "the video to load")
    assert _js(chrome, SHOWN) == []  # nothing is shown before the clip plays
    _js(chrome, "const v = document.querySelector('#vl-video video'); v.playbackRate = 4; v.play();")

    screenshot, seen_mid = tmp_path / "live_demo.png", False
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        position, ended, _ = _js(chrome, POSITION)
        shown = _js(chrome, SHOWN)
        assert all(start <= position + 0.3 for _, start in shown), f"a detection ahead of the playhead at {position} s: {shown}"
        if not seen_mid and 0.55 * full["duration"] <= position < 0.8 * full["duration"]:
            seen_mid = True
            assert 0 < len(shown) < len(full["detections"])  # the timeline grows with playback
            chrome.save_screenshot(str(screenshot))
        if ended and expected <= {label for label, _ in _js(chrome, SHOWN)}:
            break
        time.sleep(0.2)
    shown = [label for label, _ in _js(chrome, SHOWN)]
    assert expected <= set(shown), f"right actions {sorted(expected)} not all on the timeline {shown}"
    assert shown == [d["label"] for d in full["detections"]]  # played through: the model's whole answer, in order
    assert seen_mid and screenshot.stat().st_size > 10_000
    if os.environ.get("VIDEOLLM_DEMO_SCREENSHOT"):  # docs/img/demo/live_demo.png is made this way (256 colours: small)
        from PIL import Image

        Image.open(screenshot).convert("RGB").quantize(256).save(os.environ["VIDEOLLM_DEMO_SCREENSHOT"], optimize=True)
    assert first_answer_s < 10, first_answer_s
    assert not [e for e in console_errors(chrome) if "vl-" in e or "Uncaught" in e]


@pytest.mark.browser
def test_a_corrupt_file_and_an_oversized_upload_each_give_a_message_and_the_server_keeps_serving(chrome, demo_server, tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    _open(chrome, demo_server["url"])
    chrome.find_element("css selector", "#vl-video input[type=file]").send_keys(str(corrupt))
    _wait(lambda: "cannot read the file as a video" in _js(chrome, "return document.querySelector('#vl-live').innerText"),
          30, "the corrupt file's message in the answer panel")

    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * int((demo_server["max_upload_mb"] + 0.5) * 1_000_000))
    _open(chrome, demo_server["url"])
    chrome.find_element("css selector", "#vl-video input[type=file]").send_keys(str(big))
    _wait(lambda: re.search(r"exceed the maximum allowed size", _js(chrome, "return document.body.innerText")),
          30, "the oversized upload's message")

    assert demo_server["process"].poll() is None
    _open(chrome, demo_server["url"])  # and a good clip is still answered
    chrome.find_element("css selector", "#vl-video input[type=file]").send_keys(str(demo_server["clips"][0]))
    _wait(lambda: '"done": true' in _js(chrome, DATA), 60, "the answers to a good clip after the bad uploads")


def test_four_sessions_at_once_each_get_their_own_answers(demo_server, reference):
    from gradio_client import Client, handle_file

    clips = demo_server["clips"][:4]
    expected = [reference(c) for c in clips]
    assert len({json.dumps(e["detections"]) for e in expected}) == 4

    def session(clip: Path) -> dict:
        client = Client(demo_server["url"], verbose=False)  # a session of its own
        return json.loads(client.predict(handle_file(str(clip)), None, "", api_name="/answer"))

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(session, clips))
    for clip, mine, want in zip(clips, got, expected):
        assert mine["done"] and [d["label"] for d in mine["detections"]] == [d["label"] for d in want["detections"]], clip.name
        tops = [(a["unit"], a["action"][0][0]) for a in mine["answers"]]
        assert tops == [(a["unit"], a["action"][0][0]) for a in want["answers"]], clip.name
        scores = np.array([a["action"][0][1] for a in mine["answers"]])
        assert np.allclose(scores, [a["action"][0][1] for a in want["answers"]], atol=1e-3), clip.name
    folder = re.search(r"uploads in (\S+)", demo_server["log"].read_text()).group(1)
    uploaded = [p for p in Path(folder).rglob("*.mp4")]
    assert {p.name for p in uploaded} >= {c.name for c in clips}  # the uploads went to the page's own folder


def test_the_server_listens_only_on_loopback(demo_server):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            address = probe.getsockname()[0]
        except OSError:
            address = "127.0.0.1"
    if address.startswith("127."):
        pytest.skip("this machine has no address besides loopback")
    with socket.socket() as s:
        s.settimeout(3)
        assert s.connect_ex((address, demo_server["port"])) != 0, f"the page answers on {address}"
    with socket.create_connection(("127.0.0.1", demo_server["port"]), timeout=3):
        pass
