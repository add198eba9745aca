"""A few optimizer steps on one batch, for tests that check a head or pipeline can learn it.

A plain module on the suite's path (`from training import fit`), like `shared_paths`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import torch


def fit(loss_of: Callable[[], torch.Tensor], parameters: Iterable[torch.nn.Parameter], steps: int, lr: float) -> tuple[float, float]:
    """Adam on `parameters` for `steps` steps of `loss_of()` (a scalar loss) -> `(first loss, last loss)`."""
    opt = torch.optim.Adam(list(parameters), lr=lr)
    losses = []
    for _ in range(steps):
        loss = loss_of()
        losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return losses[0], losses[-1]
