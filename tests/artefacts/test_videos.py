"""Models that record their feature extraction: ``videollm export`` reads the features'
``manifest.json``, and ``predict --videos`` / ``stream VIDEO`` extract with that backbone
exactly as ``videollm extract`` did for training."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from videollm_core import build_pipeline, load_config, save_pretrained
from videollm_core.cli.commands import main

pytest.importorskip("av")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "features"))
from feature_layouts import write_mp4  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory, perturb):
    """A tiny CLIP tower, two mp4s, their extracted features, and an OAD model recording the extraction."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    from videollm_core.cli.export import extraction_backbone
    from videollm_core.validation import task_specs

    base = tmp_path_factory.mktemp("videos")
    torch.manual_seed(0)
    clip = base / "clip"
    CLIPVisionModel(CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                     image_size=32, patch_size=16)).save_pretrained(clip)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size=32).save_pretrained(clip)
    videos = base / "videos"
    write_mp4(videos / "kitchen.mp4", 24, rate=8, size=48, seed=1)  # 3 s
    write_mp4(videos / "garden.mp4", 16, rate=8, size=40, seed=2)  # 2 s
    assert main(["extract", "--backbone", str(clip), "--videos", str(videos), "--out", str(base / "features"), "--fps", "4",
                 "--quiet"]) == 0
    cfg = load_config(ROOT / "examples" / "oad.yaml", ["data.train.demo.num_videos=4", "data.val.demo.num_videos=4",
                                                      f"data.val.features_dir={base / 'features'}"])
    extraction = extraction_backbone(task_specs(cfg))
    pipeline = build_pipeline(load_config(ROOT / "examples" / "oad.yaml", ["data.train.demo.num_videos=4",
                                                                          "data.val.demo.num_videos=4"])).eval()
    perturb(pipeline, scale=0.3)
    save_pretrained(pipeline, base / "model", extraction=extraction, inputs={"oad": {"fps": 4.0, "window": None}})
    return base, extraction


def test_export_records_the_features_manifest(setup):
    base, extraction = setup
    assert extraction["backbone"]["name"] == str(base / "clip") and extraction["fps"] == 4.0
    assert extraction["image_size"] == 32
    info = json.loads((base / "model" / "videollm.json").read_text())
    assert info["extraction"] == extraction
    assert str(base / "clip") in (base / "model" / "README.md").read_text()


def test_predict_videos_equals_predict_on_the_extracted_features(setup, tmp_path, capsys):
    from videollm_core import REGISTRIES

    base, _ = setup
    by_video, by_features = tmp_path / "v.json", tmp_path / "f.json"
    assert main(["predict", str(base / "model"), "--videos", str(base / "videos"), "--out", str(by_video)]) == 0
    assert main(["predict", str(base / "model"), "--features", str(base / "features"), "--out", str(by_features)]) == 0
    metric = REGISTRIES.metrics.build({"type": "oad"}, where="test")
    a, b = metric.load_predictions(by_video), metric.load_predictions(by_features)
    assert sorted(a) == sorted(b) == ["garden", "kitchen"]
    assert a["kitchen"]["action"].shape[0] == 12
    for vid in a:
        assert np.array_equal(np.asarray(a[vid]["action"]), np.asarray(b[vid]["action"]))


def test_stream_a_video_file(setup, capsys):
    base, _ = setup
    assert main(["stream", str(base / "model"), str(base / "videos" / "garden.mp4"), "--json"]) == 0
    video_lines = capsys.readouterr().out.splitlines()
    assert main(["stream", str(base / "model"), str(base / "features" / "garden.npy"), "--json"]) == 0
    assert video_lines == capsys.readouterr().out.splitlines() and len(video_lines) == 8


def test_videos_need_a_recorded_backbone(setup, tmp_path, capsys):
    base, _ = setup
    pipeline = build_pipeline(load_config(ROOT / "examples" / "oad.yaml", ["data.train.demo.num_videos=4",
                                                                          "data.val.demo.num_videos=4"]))
    save_pretrained(pipeline, tmp_path / "plain", inputs={"oad": {"fps": 4.0}})
    assert main(["predict", str(tmp_path / "plain"), "--videos", str(base / "videos"), "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert "does not record the backbone" in err and "videollm extract" in err
