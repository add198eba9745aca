"""`videollm-run` trains from mp4 files: a dataset given ``videos_dir:`` and a ``FrameEncoder`` built from YAML."""
from __future__ import annotations

import json

import pytest
import yaml

from feature_layouts import write_mp4
from videollm_core.cli.commands import run_main

pytest.importorskip("av")

TINY_VIT = {"model_type": "vit", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 64, "image_size": 16, "patch_size": 8}
DEMO = {"num_videos": 4, "frames": 12, "seed": 0}


def test_videollm_run_trains_five_steps_from_mp4_files(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    from videollm_plugins.tasks.oad.dataset import ThumosOADDataset

    ids = [vid for split in ("train", "test") for vid in ThumosOADDataset(split=split, demo=DEMO)._videos]
    for i, vid in enumerate(ids):  # 12 steps at 4 steps/s = 3 s = 24 frames at 8 fps
        write_mp4(tmp_path / "videos" / f"{vid}.mp4", 24, seed=i)
    sample = ThumosOADDataset(split="train", demo=DEMO, videos_dir=str(tmp_path / "videos"), window=None)[0]
    assert sample["features"].shape[1] == 3 * 224 * 224  # pixel rows, not the demo's 32-dim features
    data = {"type": "ThumosOADDataset", "window": None, "demo": DEMO, "videos_dir": str(tmp_path / "videos")}
    cfg = {
        "work_dir": str(tmp_path / "work"),
        "model": {
            "encoder": {"type": "FrameEncoder", "backbone": {"config": TINY_VIT}, "frame_rate": 4},  # no in_dim: it reads pixels
            "translator": {"type": "LinearTranslator"},
            "llm": {"type": "HFCausalLM", "config": {"model_type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2, "n_positions": 64},
                    "tokenizer": {"words": ["online", "action", "detection"]}},
            "head": {"type": "OnlineActionDetectionHead"},
        },
        "data": {"train": {**data, "split": "train"}, "val": {**data, "split": "test"}, "batch_size": 2, "num_workers": 0},
        "metric": {"type": "oad"},
        "train": {"max_steps": 5, "lr": 1e-3, "eval_every": 5, "log_every": 1},
    }
    path = tmp_path / "video.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert run_main([str(path)]) == 0
    lines = [json.loads(line) for line in (tmp_path / "work" / "metrics.jsonl").read_text().splitlines() if line.strip()]
    losses = [r["loss"] for r in lines if "loss" in r]
    assert len(losses) == 5 and all(loss == loss and loss > 0 for loss in losses)
    assert any(k.startswith("oad/") for r in lines for k in r)


def test_videos_dir_with_a_feature_encoder_is_a_config_error(tmp_path, monkeypatch):
    from videollm_core import ConfigError
    from videollm_plugins.tasks.oad.dataset import ThumosOADDataset

    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match="encoder reads 32-dim features") as err:
        ThumosOADDataset(split="train", demo=DEMO, videos_dir=str(tmp_path), feature_dim=32)
    assert "FrameEncoder" in err.value.hint
    with pytest.raises(ConfigError, match="takes only one of features_dir, features, videos_dir"):
        ThumosOADDataset(split="train", demo=DEMO, videos_dir=str(tmp_path), features_dir=str(tmp_path))
