"""Batches of sequences of similar length, for the padded tasks (LRA ListOps, Text).

A batch is padded to its longest sequence and the encoder's cost grows with that length, so random
batches pay for their longest member: over the generated ListOps lengths (500-2000) the padded positions
of random batches of 32 are 1.8x the real ones, over IMDB's byte lengths (up to 4096) in batches of 16,
2.6x. Batching by length brings that close to 1x.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler, Subset


def item_lengths(dataset: Dataset) -> list[int] | None:
    """The length of every item of ``dataset`` (through ``Subset`` views), from its ``lengths()`` method;
    None when it has none."""
    if isinstance(dataset, Subset):
        inner = item_lengths(dataset.dataset)
        return None if inner is None else [inner[i] for i in dataset.indices]
    lengths = getattr(dataset, "lengths", None)
    return list(lengths()) if callable(lengths) else None


class LengthBatches(Sampler[list[int]]):
    """Index batches of at most ``batch_size`` items of similar length.

    With ``shuffle``, each pass shuffles the items, sorts them by length within pools of ``pool`` batches,
    cuts the pools into batches and shuffles the batches: every item once a pass, a new order each pass
    (the epoch counter advances with every pass; Lightning calls ``set_epoch`` on a loader's sampler, not
    on its batch sampler), seeded by ``(seed, epoch)``. Without (evaluation), the batches are cut from the
    items sorted by length and come in one fixed seeded order, the same every pass: a loader limited to its
    first batches (Lightning's ``limit_val_batches``) then reads a sample of every length, not the shortest.
    Under DDP each process takes its share of the batches itself (the trainer must not inject a distributed
    sampler: ``ClassificationData.splits_processes``).
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = True, pool: int = 50, seed: int = 0):
        if batch_size < 1 or pool < 1:
            raise ValueError(f"batch_size and pool must be positive; got {batch_size}, {pool}")
        self.lengths, self.batch_size, self.shuffle, self.pool, self.seed = np.asarray(lengths), batch_size, shuffle, pool, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-self._n_batches() // _replicas()[0])

    def _n_batches(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        """This process's batches: all of them, or under DDP every ``world``-th one from its rank on, the
        last few repeated so that every process gets as many (each process draws the same order)."""
        world, rank = _replicas()
        batches = list(self._batches())
        batches += batches[: (-len(batches)) % world]
        yield from batches[rank::world]

    def _batches(self) -> Iterator[list[int]]:
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            batches = [order[i : i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]
            yield from (batches[i] for i in np.random.default_rng(self.seed).permutation(len(batches)))
            return
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        items, size = rng.permutation(len(self.lengths)), self.batch_size * self.pool
        batches = []
        for start in range(0, len(items), size):
            pooled = items[start : start + size]
            pooled = pooled[np.argsort(self.lengths[pooled], kind="stable")]
            batches += [pooled[i : i + self.batch_size].tolist() for i in range(0, len(pooled), self.batch_size)]
        yield from (batches[i] for i in rng.permutation(len(batches)))


def _replicas() -> tuple[int, int]:
    """(processes, this process's rank) of the default torch.distributed group, (1, 0) without one."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size(), torch.distributed.get_rank()
    return 1, 0
