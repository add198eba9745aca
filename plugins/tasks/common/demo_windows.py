"""Demo-data helper shared by the NLQ and QVHighlights generators: disjoint event windows
(seconds) planted in a clip."""
from __future__ import annotations

import numpy as np


def plant_windows(rng: np.random.Generator, duration: float, count: int, lengths: list[float]) -> list[list[float]]:
    """`count` disjoint windows `[s, e]` (s, 2 decimals) inside `[0, duration]`, in time order."""
    for _ in range(1000):
        lens = rng.uniform(*lengths, size=count)
        free = duration - lens.sum() - 1.0
        if free <= 0:
            continue
        gaps = np.diff(np.sort(rng.uniform(0, free, size=count + 1)), prepend=0.0)[:count] + np.r_[0.5, np.full(count - 1, 0.5)]
        starts = np.cumsum(gaps) + np.r_[0.0, np.cumsum(lens)[:-1]]
        wins = [[round(float(s), 2), round(float(s + l), 2)] for s, l in zip(starts, lens)]
        if wins[-1][1] <= duration:
            return wins
    raise ValueError("cannot place the demo windows: raise duration or shorten window_seconds")


__all__ = ["plant_windows"]
