"""A `FrameEncoder` stream takes pixel rows `[T, 3*S*S]` (what `VideoStream.push` and the page push) as it takes images."""
from __future__ import annotations

import pytest
import torch

from videollm_core.errors import DataError
from videollm_plugins.encoders.frame import FrameEncoder

TINY_VIT = {"model_type": "vit", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 64, "image_size": 16, "patch_size": 8}


def test_pixel_rows_and_images_give_the_same_units():
    torch.manual_seed(0)
    encoder = FrameEncoder({"config": TINY_VIT}, frame_rate=4, unit_size=2).eval()
    images = torch.rand(6, 3, 16, 16)
    times = torch.stack([torch.arange(6) * 0.25, torch.arange(1, 7) * 0.25], dim=-1)
    by_image, by_row = encoder.open_stream(), encoder.open_stream()
    a, b = by_image.push(images, times), by_row.push(images.reshape(6, -1), times)
    assert a.embeds.shape == (1, 3, encoder.out_dim) and torch.allclose(a.embeds, b.embeds)
    assert torch.equal(a.spans, b.spans)
    with pytest.raises(DataError, match="not pixel rows"):
        encoder.open_stream().push(torch.rand(2, 3 * 16 * 16 + 1), times[:2])
