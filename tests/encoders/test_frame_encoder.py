"""FrameEncoder on a real mp4 written with PyAV, through a tiny random ViT."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from videollm_core import DataError, REGISTRIES, VideoBatch
from videollm_plugins.encoders.video import read_video_frames, video_batch_from_paths

av = pytest.importorskip("av")

TINY_VIT = {"model_type": "vit", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 64, "image_size": 16, "patch_size": 8}
COLOURS = [((37 * i) % 256, (255 - 29 * i) % 256, (90 + 53 * i) % 256) for i in range(16)]


@pytest.fixture(scope="module")
def mp4(tmp_path_factory):
    """2 s at 8 fps, 32x32, one distinct flat colour per frame."""
    path = tmp_path_factory.mktemp("video") / "colours.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for colour in COLOURS:
            image = np.empty((32, 32, 3), np.uint8)
            image[...] = colour
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def build(**args):
    torch.manual_seed(0)
    return REGISTRIES.encoders.build({"type": "FrameEncoder", "backbone": {"config": TINY_VIT}, **args}, where="model.encoder")


def test_read_video_samples_at_frame_rate(mp4):
    frames, ts, info = read_video_frames(mp4, frame_rate=4.0)
    assert frames.shape == (8, 32, 32, 3) and frames.dtype == torch.uint8
    assert info["fps"] == 8.0 and info["duration"] == pytest.approx(2.0)
    assert torch.allclose(ts[:, 0], torch.arange(8) * 0.25) and torch.allclose(ts[:, 1], torch.arange(1, 9) * 0.25)
    # sample k is source frame 2k: its colour survives the codec within a few levels
    centre = frames[:, 16, 16].int()
    expected = torch.tensor(COLOURS[::2]).int()
    assert (centre - expected).abs().max() <= 12


def test_encodes_mp4_into_units_with_spans(mp4):
    enc = build(frame_rate=4.0, unit_size=2)
    assert not any(p.requires_grad for p in enc.backbone.parameters())
    assert enc.in_dim == 32 and enc.out_dim == 32
    out = enc(video_batch_from_paths([mp4, mp4]))
    assert out.embeds.shape == (2, 4, 32)
    assert out.mask.all()
    assert out.spans[0].tolist() == [[0.0, 0.5], [0.5, 1.0], [1.0, 1.5], [1.5, 2.0]]
    frames, _, _ = read_video_frames(mp4, 4.0)
    per_frame = enc.embed_frames(frames.permute(0, 3, 1, 2))
    assert torch.allclose(out.embeds[0], per_frame.view(4, 2, 32).mean(1), atol=1e-5)
    assert torch.cdist(per_frame, per_frame).fill_diagonal_(1.0).min() > 1e-3  # distinct colours, distinct frames


def test_partial_unit_at_the_end(mp4):
    out = build(frame_rate=8.0, unit_size=3)(video_batch_from_paths([mp4]))
    assert out.embeds.shape[1] == 6  # ceil(16 / 3)
    assert out.spans[0, -1].tolist() == [1.875, 2.0]


def test_pixels_path_and_stream_equal_the_file_path(mp4):
    enc = build(frame_rate=4.0, unit_size=3, pooling="attention")
    from_file = enc(video_batch_from_paths([mp4]))
    frames, ts, _ = read_video_frames(mp4, 4.0)
    pixels = frames.permute(0, 3, 1, 2)
    batch = VideoBatch(features=pixels.unsqueeze(0), mask=torch.ones(1, 8, dtype=torch.bool), timestamps=ts.unsqueeze(0))
    from_pixels = enc(batch)
    assert torch.allclose(from_pixels.embeds, from_file.embeds, atol=1e-6)
    stream = enc.open_stream()
    outs = [stream.push(pixels[i:i + 3], ts[i:i + 3]) for i in range(0, 8, 3)] + [stream.flush()]
    got = torch.cat([o.embeds for o in outs if o is not None], 1)
    assert torch.allclose(got, from_file.embeds, atol=1e-5)
    assert torch.equal(torch.cat([o.spans for o in outs if o is not None], 1), from_file.spans)


def test_backbone_stays_frozen_in_train_mode(mp4):
    enc = build(pooling="attention").train()
    assert enc.training and not enc.backbone.training
    assert [n for n, p in enc.named_parameters() if p.requires_grad] == ["unitizer.attention.score.weight", "unitizer.attention.score.bias"]


def test_pretrained_directory_with_its_normalisation(tmp_path):
    from transformers import AutoConfig, AutoModel

    model = AutoModel.from_config(AutoConfig.for_model(**TINY_VIT))
    model.save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"image_mean": [0.1, 0.2, 0.3], "image_std": [0.5, 0.6, 0.7]}))
    enc = REGISTRIES.encoders.build({"type": "FrameEncoder", "backbone": {"pretrained": str(tmp_path)}}, where="model.encoder")
    assert enc.image_mean.flatten().tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert enc.image_size == 16
    saved, loaded = model.state_dict(), enc.backbone.state_dict()
    assert saved.keys() == loaded.keys()
    assert all(torch.equal(saved[k], loaded[k]) for k in saved)


def test_errors(tmp_path):
    enc = build()
    with pytest.raises(DataError, match="not found"):
        enc(video_batch_from_paths([tmp_path / "missing.mp4"]))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(DataError, match="decode"):
        enc(video_batch_from_paths([broken]))
    with pytest.raises(DataError, match="video_path"):
        enc(VideoBatch(features=torch.zeros(1, 2, 32), mask=torch.ones(1, 2, dtype=torch.bool), timestamps=torch.zeros(1, 2, 2)))
    with pytest.raises(Exception, match="exactly one"):
        build(backbone={})
