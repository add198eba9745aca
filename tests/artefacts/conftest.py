"""Shared by the artefact tests."""
from __future__ import annotations

import pytest
import torch


def _perturb(pipeline, seed: int = 0, scale: float = 0.1) -> None:
    """Move every trainable weight by ``N(0, scale)`` noise, so that outputs depend on all of them
    (untrained LoRA B matrices and fresh heads would hide a weight that failed to load)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in pipeline.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=generator).to(p) * scale)


@pytest.fixture(scope="session")
def perturb():
    return _perturb
