"""``videollm demo-data TASK --videos``: clips whose pixels carry the demo's features, and a config that trains from them."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from videollm_core.cli.commands import main

pytest.importorskip("av")


def _r2(x: np.ndarray, y: np.ndarray) -> float:
    """Held-out R^2 of a ridge fit ``x -> y`` (first half fits, second half scores)."""
    n = len(x) // 2
    xa = np.c_[x, np.ones(len(x))]
    w = np.linalg.solve(xa[:n].T @ xa[:n] + 0.1 * np.eye(xa.shape[1]), xa[:n].T @ y[:n])
    residual = ((xa[n:] @ w - y[n:]) ** 2).sum()
    return float(1 - residual / ((y[n:] - y[n:].mean(0)) ** 2).sum())


def test_render_frames_is_deterministic_and_depends_on_every_feature_dim():
    from videollm_plugins.demo.videos import render_frames

    feats = np.random.default_rng(0).normal(size=(3, 32)).astype(np.float32)
    a, b = render_frames(feats), render_frames(feats)
    assert a.shape == (3, 64, 64, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    for d in (0, 17, 31):  # each dimension changes the picture
        moved = feats.copy()
        moved[:, d] += 3.0
        assert np.abs(render_frames(moved).astype(int) - a).mean() > 1.0
    with pytest.raises(Exception, match="finite"):
        render_frames(np.full((2, 4), np.nan))


def test_demo_data_videos_writes_clips_and_a_frame_encoder_config(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    assert main(["demo-data", "oad", "--videos", "--out", str(tmp_path / "D")]) == 0
    assert "mp4 clips" in capsys.readouterr().out
    cfg = yaml.safe_load((tmp_path / "D" / "config.yaml").read_text())
    encoder = cfg["model"]["encoder"]
    assert encoder["type"] == "FrameEncoder" and encoder["backbone"]["config"]["model_type"] == "vit"
    assert "in_dim" not in encoder and encoder["frame_rate"] == 4.0
    videos = tmp_path / "D" / "data" / "videos"
    for split in ("train", "val"):
        entry = cfg["data"][split]
        assert "features_dir" not in entry
        assert entry["features"] == {"type": "VideoFrames", "dir": str(videos), "size": 32}
    clips = sorted(videos.glob("*.mp4"))
    feature_dir = next((tmp_path / "D" / "data").glob("ek100-*/features"))
    assert [c.stem for c in clips] == sorted(p.stem for p in feature_dir.glob("*.npy"))

    # one frame per feature step, and the frames hold the features (a linear read-out recovers them)
    from videollm_plugins.features.video import VideoFrames

    source = VideoFrames(str(videos), 4.0, size=32)
    rows, feats = [], []
    for clip in clips[:3]:
        f = np.load(feature_dir / f"{clip.stem}.npy")
        r = source.read(clip.stem)
        assert r.shape == (f.shape[0], 3 * 32 * 32)
        rows.append(r)
        feats.append(f)
    assert _r2(np.concatenate(rows), np.concatenate(feats)) > 0.8


def test_demo_data_videos_refuses_a_task_without_feature_files(tmp_path, monkeypatch):
    from videollm_core.errors import ConfigError
    from videollm_plugins.demo.video_data import use_videos

    with pytest.raises(ConfigError, match="features_dir"):
        use_videos({"model": {}}, [("data.train", {"type": "EK100OADDataset", "features": {"type": "X"}})], tmp_path)


def test_a_query_task_is_written_as_clips_too(tmp_path, monkeypatch):
    """QVHighlights: one feature per 2-s clip, so each step is held for 8 frames of a 4-fps video."""
    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    assert main(["demo-data", "qvhighlights", "--videos", "--out", str(tmp_path / "Q")]) == 0
    cfg = yaml.safe_load((tmp_path / "Q" / "config.yaml").read_text())
    assert cfg["model"]["encoder"]["type"] == "FrameEncoder" and cfg["model"]["encoder"]["frame_rate"] == 0.5
    from videollm_plugins.features.video import VideoFrames
    from videollm_plugins.encoders.video import read_video_frames

    videos = tmp_path / "Q" / "data" / "videos"
    clip = sorted(videos.glob("*.mp4"))[0]
    feats = np.load(next((tmp_path / "Q" / "data").glob("qvhighlights-*/features")) / f"{clip.stem}.npy")
    _, _, info = read_video_frames(clip, 4.0)
    assert info["fps"] == 4.0 and info["duration"] == pytest.approx(2.0 * feats.shape[0])
    assert VideoFrames(str(videos), 0.5, size=32).read(clip.stem).shape == (feats.shape[0], 3 * 32 * 32)
