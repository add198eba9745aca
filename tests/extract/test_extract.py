"""`videollm extract`: mp4s (one corrupt) + a tiny random CLIP vision tower saved with save_pretrained."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from feature_layouts import write_mp4
from videollm_core.cli.commands import main
from videollm_plugins.encoders.video import read_video_frames

pytest.importorskip("av")
MEAN, STD = [0.48, 0.46, 0.41], [0.27, 0.26, 0.28]


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("clip")
    cfg = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=16)
    CLIPVisionModel(cfg).save_pretrained(path)
    CLIPImageProcessor(image_mean=MEAN, image_std=STD, size={"shortest_edge": 32}, crop_size=32).save_pretrained(path)
    return path


@pytest.fixture()
def videos(tmp_path):
    folder = tmp_path / "videos"
    write_mp4(folder / "cooking.mp4", 20, rate=8, size=48, seed=1)  # 2.5 s
    write_mp4(folder / "walk.mp4", 13, rate=8, size=40, seed=2)  # 1.625 s
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    return folder


def direct(clip_dir, video, fps):
    """The CLIP tower run by hand on the same decoded frames: resize, normalise, pooler_output."""
    from transformers import CLIPVisionModel

    model = CLIPVisionModel.from_pretrained(clip_dir).eval()
    frames, _, _ = read_video_frames(video, fps)
    x = F.interpolate(frames.permute(0, 3, 1, 2).float() / 255.0, size=(32, 32), mode="bilinear", align_corners=False)
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        return model(pixel_values=x).pooler_output.numpy()


def extract(clip_dir, videos, out, *extra):
    return main(["extract", "--backbone", str(clip_dir), "--videos", str(videos), "--out", str(out), "--fps", "2",
                 "--batch-size", "3", "--quiet", *extra])


def test_features_equal_the_model_run_directly_and_a_rerun_does_no_work(clip_dir, videos, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert extract(clip_dir, videos, out) == 0
    assert "2 video(s) extracted, 0 already done, 1 failed" in capsys.readouterr().out
    for stem in ("cooking", "walk"):
        got = np.load(out / f"{stem}.npy")
        assert got.dtype == np.float32 and got.shape == (5 if stem == "cooking" else 4, 32)
        np.testing.assert_allclose(got, direct(clip_dir, videos / f"{stem}.mp4", 2.0), atol=1e-5, rtol=0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["fps"] == 2.0 and manifest["image_size"] == 32 and manifest["dtype"] == "float32"
    assert manifest["backbone"]["name"] == str(clip_dir) and manifest["versions"]["transformers"]
    assert "error" in manifest["videos"]["broken"] and manifest["videos"]["cooking"]["steps"] == 5
    import hashlib

    assert manifest["videos"]["walk"]["sha256"] == hashlib.sha256((out / "walk.npy").read_bytes()).hexdigest()
    assert not list(out.glob(".*.tmp*"))

    import videollm_plugins.features.extract as extract_module

    def no_work(*args, **kwargs):
        raise AssertionError("a rerun decoded a video")

    monkeypatch.setattr(extract_module, "extract_video", no_work)
    assert extract(clip_dir, videos, out) == 0
    assert "0 video(s) extracted, 3 already done, 1 failed" in capsys.readouterr().out
    assert extract(clip_dir, videos, out, "--strict") == 2  # the corrupt video is an error under --strict
    assert "broken.mp4" in capsys.readouterr().err


def test_h5_output_and_settings_mismatch(clip_dir, videos, tmp_path, capsys):
    out = tmp_path / "h5"
    assert extract(clip_dir, videos, out, "--format", "h5") == 0
    import h5py

    with h5py.File(out / "features.h5", "r") as f:
        assert sorted(f) == ["cooking", "walk"]
        np.testing.assert_allclose(f["walk"][()], direct(clip_dir, videos / "walk.mp4", 2.0), atol=1e-5, rtol=0)
    capsys.readouterr()
    assert main(["extract", "--backbone", str(clip_dir), "--videos", str(videos), "--out", str(out), "--fps", "4",
                 "--format", "h5", "--quiet"]) == 2
    assert "other settings (fps)" in capsys.readouterr().err


def test_ranks_share_the_videos(clip_dir, videos, tmp_path):
    from videollm_plugins.features.extract import Extraction

    out = tmp_path / "sharded"
    stats = [Extraction(str(clip_dir), videos, out, 2.0, rank=r, world=2, progress=False).run() for r in (0, 1)]
    assert [s["done"] for s in stats] == [1, 1]  # rank 0: broken (fails), walk; rank 1: cooking
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["videos"]) == ["broken", "cooking", "walk"]


def test_video_model_embeds_one_clip_of_num_frames_per_step(videos, tmp_path):
    from transformers import VideoMAEConfig, VideoMAEModel

    torch.manual_seed(0)
    cfg = VideoMAEConfig(image_size=16, patch_size=8, num_frames=2, tubelet_size=2, hidden_size=32, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=64)
    VideoMAEModel(cfg).save_pretrained(tmp_path / "videomae")
    (videos / "broken.mp4").unlink()
    assert main(["extract", "--backbone", str(tmp_path / "videomae"), "--videos", str(videos), "--out", str(tmp_path / "out"),
                 "--fps", "2", "--quiet"]) == 0
    model = VideoMAEModel.from_pretrained(tmp_path / "videomae").eval()
    frames, _, _ = read_video_frames(videos / "walk.mp4", 4.0)  # 2 frames per step of 0.5 s
    steps = frames.shape[0] // 2
    x = F.interpolate(frames[: 2 * steps].permute(0, 3, 1, 2).float() / 255.0, size=(16, 16), mode="bilinear", align_corners=False)
    x = ((x - 0.5) / 0.5).view(steps, 2, 3, 16, 16)
    with torch.no_grad():
        expected = model(pixel_values=x).last_hidden_state.mean(1).numpy()
    got = np.load(tmp_path / "out" / "walk.npy")
    assert got.shape == (steps, 32)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_user_errors_exit_2_with_the_place(videos, tmp_path, capsys):
    assert main(["extract", "--backbone", str(tmp_path / "no_model"), "--videos", str(videos), "--out", str(tmp_path / "o"), "--fps", "1"]) == 2
    assert "--backbone" in capsys.readouterr().err
    assert main(["extract", "--backbone", "x", "--videos", str(tmp_path / "none"), "--out", str(tmp_path / "o"), "--fps", "1"]) == 2
    assert "video folder not found" in capsys.readouterr().err
