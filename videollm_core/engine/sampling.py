"""Deterministic, resumable training data order.

Everything about which samples a training step sees is a pure function of the seed and
the step number, so a run resumed from a checkpoint at step `k` sees exactly the
batches an uninterrupted run sees after step `k`, on any number of processes:

- `task_schedule` draws the task of every micro-batch from the tasks' sampling
  `weight`\\ s with a seeded generator (multi-task training, the paper's RQ3).
- `StepBatchSampler` yields one process's share of an endless sequence of global
  batches: epoch `e` is a permutation seeded by `(seed, e)`; global batch `j` of it
  holds `batch_size * world_size` indices and process `r` takes the `r`-th slice,
  so `P` processes with batch `b` see the same global batches as one process with
  batch `P * b`.
"""
from __future__ import annotations

import math
from typing import Iterator, Sequence

import torch
from torch.utils.data import Sampler


def task_schedule(weights: Sequence[float], num_micro_steps: int, seed: int) -> torch.Tensor:
    """Task index of each micro-batch: `[num_micro_steps]` long, drawn with replacement.

    One task (or all weights equal to one task) gives all zeros without drawing.
    """
    w = torch.as_tensor([float(x) for x in weights], dtype=torch.float64)
    if len(w) == 1:
        return torch.zeros(num_micro_steps, dtype=torch.long)
    g = torch.Generator().manual_seed(int(seed) + 7919)
    return torch.multinomial(w, num_micro_steps, replacement=True, generator=g)


def consumed_batches(schedule: torch.Tensor, upto: int, num_tasks: int) -> list[int]:
    """How many micro-batches each task has produced before micro-step `upto`."""
    counts = torch.bincount(schedule[:upto], minlength=num_tasks)
    return [int(c) for c in counts]


class StepBatchSampler(Sampler[list[int]]):
    """Endless batches of dataset indices for one process, starting after `start` batches.

    Args:
        num_samples: dataset length `n`.
        batch_size: per-process batch size `b`.
        seed: epoch `e` uses `torch.randperm(n)` seeded with `seed * 100003 + e`.
        rank / world_size: this process and the number of processes `P`.
        start: number of batches this sampler already produced (resume point).
        shuffle: False keeps dataset order in every epoch.

    A global batch holds `b * P` indices; an epoch has `max(1, n // (b * P))` of them
    (an incomplete last global batch is dropped; a dataset smaller than one global
    batch wraps around its permutation).
    """

    def __init__(self, num_samples: int, batch_size: int, *, seed: int, rank: int = 0, world_size: int = 1,
                 start: int = 0, shuffle: bool = True):
        if num_samples <= 0:
            raise ValueError("StepBatchSampler needs a non-empty dataset")
        self.n = int(num_samples)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.start = int(start)
        self.shuffle = shuffle
        self.global_batch = self.batch_size * self.world_size
        self.per_epoch = max(1, self.n // self.global_batch)

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100003 + epoch)
            perm = torch.randperm(self.n, generator=g)
        else:
            perm = torch.arange(self.n)
        if self.n < self.global_batch:
            perm = perm.repeat(math.ceil(self.global_batch / self.n))
        return perm

    def _take(self, order: torch.Tensor, j: int) -> list[int]:
        glob = order[j * self.global_batch:(j + 1) * self.global_batch]
        return glob[self.rank * self.batch_size:(self.rank + 1) * self.batch_size].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        k = self.start
        epoch, order = -1, None
        while True:
            e, j = divmod(k, self.per_epoch)
            if e != epoch or order is None:  # (None only before the first epoch)
                epoch, order = e, self._epoch_order(e)
            yield self._take(order, j)
            k += 1

    def __len__(self) -> int:  # batches per epoch (the stream itself is endless)
        return self.per_epoch


__all__ = ["task_schedule", "consumed_batches", "StepBatchSampler"]
