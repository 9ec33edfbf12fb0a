"""Seeded, resumable batches for the classification loaders, of sequences of similar length for the padded
tasks (LRA ListOps, Text).

A batch is padded to its longest sequence and the encoder's cost grows with that length, so random
batches pay for their longest member: over the generated ListOps lengths (500-2000) the padded positions
of random batches of 32 are 1.8x the real ones, over IMDB's byte lengths (up to 4096) in batches of 16,
2.6x. Batching by length brings that close to 1x. Every loader keeps where it stands in its epoch, so a
run resumed from a checkpoint written inside an epoch reads that epoch's remaining batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset


def item_lengths(dataset: Dataset) -> list[int] | None:
    """The length of every item of ``dataset`` (through ``Subset`` views), from its ``lengths()`` method;
    None when it has none.

    Parameters
    ----------
    dataset
        A dataset, or a ``Subset`` of one.

    Returns
    -------
    list of int or None
    """
    if isinstance(dataset, Subset):
        inner = item_lengths(dataset.dataset)
        return None if inner is None else [inner[i] for i in dataset.indices]
    lengths = getattr(dataset, "lengths", None)
    return list(lengths()) if callable(lengths) else None


class SeededBatches(Sampler[list[int]]):
    """Index batches of at most ``batch_size`` items, every item once a pass.

    With ``shuffle``, each pass draws a new order seeded by ``(seed, epoch)`` (the epoch counter advances with
    every pass; Lightning sets it on the batch sampler each epoch), so a pass's batches depend on the epoch,
    not on the process that draws them; without (evaluation), one fixed seeded order, the same every pass.
    Under DDP each process takes its share of the batches itself (the trainer must not inject a distributed
    sampler: ``use_distributed_sampler=False``). The pass of one epoch may start at a later batch
    (:meth:`start_at`): what a run resumed in the middle of that epoch reads, through
    :class:`ResumableLoader`.

    Parameters
    ----------
    n_items
        Items of the dataset.
    batch_size
        Items a batch (the last may be smaller).
    shuffle
        Draw a new order each pass (else in order).
    seed
        The seed of every pass's order.
    """

    def __init__(self, n_items: int, batch_size: int, shuffle: bool = True, seed: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive; got {batch_size}")
        self.n_items, self.batch_size, self.shuffle, self.seed = n_items, batch_size, shuffle, seed
        self.epoch = 0
        self.pass_epoch = 0  # the epoch of the latest pass
        self.pass_start = 0  # the batch it started at
        self._start = (None, 0)

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order the next pass draws (Lightning calls it each epoch).

        Parameters
        ----------
        epoch
            The trainer's epoch.
        """
        self.epoch = epoch

    def start_at(self, batch: int, epoch: int) -> None:
        """Make the next pass skip its first ``batch`` batches (of this process's share) if it is the pass of
        ``epoch``; a pass of another epoch starts at its beginning.

        Parameters
        ----------
        batch
            Batches to skip.
        epoch
            The pass they belong to.
        """
        self._start = (epoch, batch)

    def __len__(self) -> int:
        return -(-self._n_batches() // _replicas()[0])

    def _n_batches(self) -> int:
        return -(-self.n_items // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        """This process's batches: all of them, or under DDP every ``world``-th one from its rank on, the
        last few repeated so that every process gets as many (each process draws the same order)."""
        world, rank = _replicas()
        self.pass_epoch = self.epoch
        if self.shuffle:
            rng = np.random.default_rng([self.seed, self.epoch])
            self.epoch += 1
        else:
            rng = np.random.default_rng(self.seed)
        batches = self._batches(rng)
        batches += batches[: (-len(batches)) % world]
        (epoch, start), self._start = self._start, (None, 0)
        self.pass_start = start if epoch == self.pass_epoch else 0
        yield from batches[rank::world][self.pass_start :]

    def _batches(self, rng: np.random.Generator) -> list[list[int]]:
        items = rng.permutation(self.n_items) if self.shuffle else np.arange(self.n_items)
        batches = [items[i : i + self.batch_size].tolist() for i in range(0, self.n_items, self.batch_size)]
        return batches if self.shuffle else [batches[i] for i in rng.permutation(len(batches))]


class LengthBatches(SeededBatches):
    """Index batches of at most ``batch_size`` items of similar length (otherwise as :class:`SeededBatches`).

    With ``shuffle``, each pass shuffles the items, sorts them by length within pools of ``pool`` batches,
    cuts the pools into batches and shuffles the batches. Without (evaluation), the batches are cut from the
    items sorted by length and come in one fixed seeded order: a loader limited to its first batches
    (Lightning's ``limit_val_batches``) then reads a sample of every length, not the shortest.

    Parameters
    ----------
    lengths
        Every item's length.
    batch_size
        Items a batch.
    shuffle
        Draw a new order each pass.
    pool
        Batches a sorting pool.
    seed
        The seed of every pass's order.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = True, pool: int = 50, seed: int = 0):
        if batch_size < 1 or pool < 1:
            raise ValueError(f"batch_size and pool must be positive; got {batch_size}, {pool}")
        super().__init__(len(lengths), batch_size, shuffle, seed)
        self.lengths, self.pool = np.asarray(lengths), pool

    def _batches(self, rng: np.random.Generator) -> list[list[int]]:
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            batches = [order[i : i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]
            return [batches[i] for i in rng.permutation(len(batches))]
        items, size = rng.permutation(len(self.lengths)), self.batch_size * self.pool
        batches = []
        for start in range(0, len(items), size):
            pooled = items[start : start + size]
            pooled = pooled[np.argsort(self.lengths[pooled], kind="stable")]
            batches += [pooled[i : i + self.batch_size].tolist() for i in range(0, len(pooled), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]


class ResumableLoader(DataLoader):
    """A ``DataLoader`` over :class:`SeededBatches` whose position Lightning keeps in its checkpoints (the
    ``state_dict`` / ``load_state_dict`` of a stateful loader): the epoch of the pass and the batches it
    has yielded. A run resumed from a checkpoint written in the middle of an epoch reads that epoch's
    remaining batches, as if never stopped, instead of its first ones again.

    Parameters
    ----------
    dataset
        The dataset.
    batch_sampler
        Its seeded batches.
    **kwargs
        DataLoader's other arguments.
    """

    def __init__(self, dataset: Dataset, batch_sampler: SeededBatches, **kwargs):
        super().__init__(dataset, batch_sampler=batch_sampler, **kwargs)
        self._yielded = 0

    def __iter__(self) -> Iterator:
        self._yielded = 0
        for batch in super().__iter__():
            self._yielded += 1
            yield batch

    def state_dict(self) -> dict:
        """Where the loader stands: ``{"epoch": the pass's epoch, "batches": batches of the pass behind it}``.

        Returns
        -------
        dict
        """
        sampler = self.batch_sampler
        return {"epoch": sampler.pass_epoch, "batches": sampler.pass_start + self._yielded}

    def load_state_dict(self, state: dict) -> None:
        """Continue the pass of ``state["epoch"]`` after its ``state["batches"]`` batches, unless the pass
        was complete (Lightning then starts the next epoch, whose hook sets the sampler's epoch).

        Parameters
        ----------
        state
            As :meth:`state_dict` made it.
        """
        if state["batches"] < len(self.batch_sampler):
            self.batch_sampler.set_epoch(state["epoch"])
            self.batch_sampler.start_at(state["batches"], state["epoch"])


def _replicas() -> tuple[int, int]:
    """(processes, this process's rank) of the default torch.distributed group, (1, 0) without one."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size(), torch.distributed.get_rank()
    return 1, 0
