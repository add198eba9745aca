"""Features mode and a query task in the browser: a QVHighlights model trained on feature files (random
weights here: what is checked is what the page asks for and draws, not the answers' quality)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from live_server import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def query_server(tmp_path_factory):
    from videollm_core import build_pipeline, load_config, save_pretrained

    folder = tmp_path_factory.mktemp("qvh")
    pipeline = build_pipeline(load_config(ROOT / "examples" / "qvhighlights.yaml")).eval()
    save_pretrained(pipeline, folder / "model", inputs={"qvhighlights": {"fps": 0.5, "window": None}}, name="qvh-features")
    feats = folder / "clip.npy"
    np.save(feats, np.random.default_rng(0).normal(size=(20, pipeline.encoder.in_dim)).astype(np.float32))
    port, log = free_port(), folder / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "videollm_core.cli", "demo", str(folder / "model"), "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://127.0.0.1:{port}/", process, log)
        yield {"url": f"http://127.0.0.1:{port}/", "features": feats, "process": process}
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.browser
def test_features_mode_with_a_query_draws_moments_and_saliency(chrome, query_server):
    chrome.get(query_server["url"])
    deadline = time.monotonic() + 60
    while not chrome.execute_script("return !!document.querySelector('#vl-features input[type=file]')"):
        assert time.monotonic() < deadline, "no feature-file box in features mode"
        time.sleep(0.2)
    assert chrome.execute_script("return !!document.querySelector('#vl-query textarea, #vl-query input')")
    chrome.find_element("css selector", "#vl-features input[type=file]").send_keys(str(query_server["features"]))
    # without a query the page says what is missing
    read = "return document.querySelector('#vl-live').innerText"
    while "type a query first" not in chrome.execute_script(read):
        assert time.monotonic() < deadline + 30, chrome.execute_script(read)
        time.sleep(0.2)
    box = chrome.find_element("css selector", "#vl-query textarea, #vl-query input")
    box.send_keys("a chef cuts vegetables")
    chrome.find_element("css selector", "#vl-run").click()
    data = "const e = document.querySelector('#vl-data textarea, #vl-data input'); return e ? e.value : ''"
    while '"done": true' not in chrome.execute_script(data):
        assert time.monotonic() < deadline + 90, "no answers to the query"
        time.sleep(0.2)
    view = json.loads(chrome.execute_script(data))
    assert view["mode"] == "features" and view["duration"] == 40.0
    time.sleep(0.5)  # one drawing tick
    moments = chrome.execute_script("return document.querySelectorAll('#vl-timeline .vl-moment').length")
    points = chrome.execute_script("const p = document.querySelector('#vl-timeline .vl-saliency polyline');"
                                   " return p ? p.getAttribute('points').trim().split(' ').length : 0")
    last_moments = [a["moments"] for a in view["answers"] if "moments" in a][-1]
    assert moments == len(last_moments) > 0 and points == 20  # every unit's saliency, no video to wait for
    assert "moments" in chrome.execute_script(read)
