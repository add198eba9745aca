"""The page's model and answer runs without a browser: features mode, query models, sessions that share nothing."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from videollm_core import build_pipeline, load_config, save_pretrained
from videollm_core.errors import ConfigError, DataError
from videollm_plugins.live_demo.model import DemoModel
from videollm_plugins.live_demo.session import answer_upload
from videollm_plugins.live_demo.uploads import Limits

ROOT = Path(__file__).resolve().parents[2]


def _save(example: str, folder: Path, inputs: dict | None, **overrides) -> Path:
    cfg = load_config(ROOT / "examples" / f"{example}.yaml", [f"{k}={v}" for k, v in overrides.items()])
    pipeline = build_pipeline(cfg).eval()
    save_pretrained(pipeline, folder, **({"inputs": {pipeline.tasks[0]: inputs}} if inputs is not None else {}))
    return folder


@pytest.fixture(scope="module")
def feature_model(tmp_path_factory) -> Path:
    names = [f"action {i}" for i in range(40)]
    return _save("oad", tmp_path_factory.mktemp("m") / "oad", {"fps": 4.0, "window": None, "class_names": names})


def test_a_feature_model_is_served_in_features_mode(feature_model, tmp_path):
    model = DemoModel.load(str(feature_model))
    assert (model.mode, model.feature_dim, model.query, model.fps) == ("features", 32, False, 4.0)
    feats = tmp_path / "f.npy"
    np.save(feats, np.random.default_rng(0).normal(size=(10, 32)).astype(np.float32))
    views = list(answer_upload(model, Limits(), features=feats))
    assert len(views) >= 3 and views[-1]["done"] and not views[0]["done"]
    last = views[-1]
    assert [a["unit"] for a in last["answers"]] == list(range(10))
    assert last["answers"][0]["t"] == pytest.approx(1.0)  # known once the first push of 4 steps (1 s) was in
    assert all(isinstance(a["action"][0][0], str) for a in last["answers"])
    assert last["mode"] == "features" and last["first_answer_s"] > 0 and last["played_units_per_s"] == 4.0
    with pytest.raises(DataError, match="upload a .npy feature file"):
        next(answer_upload(model, Limits()))


def test_sessions_answer_their_own_upload_in_parallel(feature_model, tmp_path):
    """Four runs at once on one shared model give each exactly what it gives alone."""
    model = DemoModel.load(str(feature_model))
    files = []
    for i in range(4):
        files.append(tmp_path / f"f{i}.npy")
        np.save(files[-1], np.random.default_rng(i).normal(size=(24, 32)).astype(np.float32))
    alone = [list(answer_upload(model, Limits(), features=f))[-1]["answers"] for f in files]
    together: dict[int, list] = {}

    def run(i: int) -> None:
        together[i] = list(answer_upload(model, Limits(), features=files[i]))[-1]["answers"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [together[i] for i in range(4)] == alone
    assert len({json.dumps(a) for a in alone}) == 4


def test_models_that_cannot_serve_the_page_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not record its feature steps per second"):
        DemoModel.load(str(_save("oad", tmp_path / "nofps", None)))
    after = _save("qvhighlights", tmp_path / "after", {"fps": 0.5, "window": None}, **{"model.query_position": "after"})
    with pytest.raises(ConfigError, match="reads its query after the whole video"):
        DemoModel.load(str(after))
    with pytest.raises(DataError, match="no such model folder|not a videollm-core model folder"):
        DemoModel.load(str(tmp_path / "missing"))


def test_a_query_model_needs_a_query_and_answers_moments_and_saliency(tmp_path):
    model = DemoModel.load(str(_save("qvhighlights", tmp_path / "qvh", {"fps": 0.5, "window": None})))
    assert model.query and model.mode == "features"
    feats = tmp_path / "f.npy"
    np.save(feats, np.random.default_rng(0).normal(size=(12, model.feature_dim)).astype(np.float32))
    with pytest.raises(DataError, match="type a query first"):
        list(answer_upload(model, Limits(), features=feats, query="  "))
    last = list(answer_upload(model, Limits(), features=feats, query="a chef cuts vegetables"))[-1]
    assert [a["unit"] for a in last["answers"] if "saliency" in a] == list(range(12))
    moments = [a["moments"] for a in last["answers"] if "moments" in a][-1]
    assert moments and all(0.0 <= m[0] < m[1] <= 24.0 for m in moments)
