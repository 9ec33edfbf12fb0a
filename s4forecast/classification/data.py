"""Lightning data module over the classification tasks: train/val/test datasets and padding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytorch_lightning as pl
import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset, random_split

from s4forecast.classification import cifar, generated, listops, mnist, pathfinder, text
from s4forecast.classification.batching import LengthBatches, ResumableLoader, SeededBatches, item_lengths


def pad_batch(batch):
    """(x (L_i, ...), y, length) items -> (x (B, max L, ...) right-padded with 0, y (B,), lengths (B,)).

    Parameters
    ----------
    batch
        A list of (x, y, length) items.

    Returns
    -------
    tuple of torch.Tensor
    """
    xs, ys, lengths = zip(*batch)
    return pad_sequence(list(xs), batch_first=True), torch.stack(ys), torch.stack(lengths)


HELD_OUT = ("val_size", "train_subset")  # _hold_out's keys


def _images(name: str):
    """sMNIST / psMNIST (pixels in order, or permuted), sCIFAR (RGB) and LRA Image (gray CIFAR-10)."""

    def build(task: dict, data_dir):
        if name in ("smnist", "psmnist"):
            load, dims = (lambda s: mnist.load_mnist(s, data_dir)), {"d_input": 1, "n_classes": 10, "l_max": 784}
            to_seq = mnist.as_sequences
        else:
            gray = name == "lra-image"
            load, dims = (
                (lambda s: cifar.load_cifar10(s, data_dir)),
                {"d_input": 1 if gray else 3, "n_classes": 10, "l_max": 1024},
            )
            to_seq = lambda images: cifar.as_sequences(images, gray)  # noqa: E731
        perm = mnist.permutation(784, task.get("permutation_seed", 0)) if name == "psmnist" else None
        (train_x, train_y), (test_x, test_y) = load("train"), load("test")
        train = mnist.SequentialImages(to_seq(train_x), train_y, perm)
        test = mnist.SequentialImages(to_seq(test_x), test_y, perm)
        return (*_hold_out(train, task), test, dims)

    return build


def _listops(task: dict, data_dir):
    lengths = dict(min_length=task.get("min_length", 500), max_length=task.get("max_length", 2000))
    sizes = {s: task[f"n_{s}"] for s in ("train", "val", "test")}
    splits = generated.listops_splits(sizes, seed=task.get("generator_seed", 0), **lengths)
    return *(listops.ListOps(splits[s]) for s in sizes), {
        "d_input": task.get("d_embed", 64),
        "n_classes": 10,
        "l_max": lengths["max_length"],
        "vocab_size": len(listops.VOCAB),
    }


def _pathfinder(size: int):
    """Pathfinder (32 x 32) and Path-X (128 x 128): the official images, else generated ones."""

    def build(task: dict, data_dir):
        if task.get("release_root"):
            images, labels = pathfinder.read_release(task["release_root"])
            data = mnist.SequentialImages(images.reshape(len(images), -1, 1), labels)
            n_test = task.get("test_size", len(data) // 10)
            train, test = random_split(data, [len(data) - n_test, n_test], generator=torch.Generator().manual_seed(1))
        else:
            splits = [generated.pathfinder_images(task[f"n_{s}"], size=size, seed=i) for i, s in enumerate(("train", "test"))]
            train, test = (mnist.SequentialImages(x.reshape(len(x), -1, 1), y) for x, y in splits)
        return (*_hold_out(train, task), test, {"d_input": 1, "n_classes": 2, "l_max": size * size})

    return build


def _imdb(task: dict, data_dir):
    L = task.get("max_length", 4096)
    train = text.ByteSequences(text.load_imdb("train", data_dir, task.get("train_subset")), L)
    test = text.ByteSequences(text.load_imdb("test", data_dir, task.get("test_subset")), L)
    return (
        *_hold_out(train, task),
        test,
        {"d_input": task.get("d_embed", 64), "n_classes": 2, "l_max": L, "vocab_size": text.VOCAB_SIZE},
    )


def _aan(task: dict, data_dir):
    L = task.get("max_length", 4000)
    splits = [text.DocumentPairs(text.read_aan_tsv(task[f"{s}_tsv"]), L) for s in ("train", "val", "test")]
    return (
        *splits,
        {"d_input": task.get("d_embed", 64), "n_classes": 2, "l_max": L, "vocab_size": text.VOCAB_SIZE, "dual": True},
    )


@dataclass(frozen=True)
class Task:
    """A classification task: the config keys it reads (besides ``name``) and its loader, ``(task config,
    data_dir) -> (train, val, test, model dims)``.

    Attributes
    ----------
    keys
        The task config's keys.
    build
        Its loader.
    """

    keys: tuple[str, ...]
    build: Callable


TASKS = {  # the one registry of tasks, by config name
    "smnist": Task(HELD_OUT, _images("smnist")),
    "psmnist": Task((*HELD_OUT, "permutation_seed"), _images("psmnist")),
    "scifar": Task(HELD_OUT, _images("scifar")),
    "lra-image": Task(HELD_OUT, _images("lra-image")),
    "listops": Task(
        ("n_train", "n_val", "n_test", "min_length", "max_length", "generator_seed", "d_embed", "length_batches"), _listops
    ),
    "imdb": Task((*HELD_OUT, "max_length", "test_subset", "d_embed", "length_batches"), _imdb),
    "aan": Task(("max_length", "d_embed", "train_tsv", "val_tsv", "test_tsv"), _aan),
    "pathfinder": Task((*HELD_OUT, "n_train", "n_test", "release_root", "test_size"), _pathfinder(32)),
    "path-x": Task((*HELD_OUT, "n_train", "n_test", "release_root", "test_size"), _pathfinder(128)),
}


def check_task(task: dict) -> None:
    """A task config names a known task and only the keys that task reads (a misspelt key would
    otherwise be ignored silently).

    Parameters
    ----------
    task
        The task config.
    """
    name = task.get("name")
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid: {', '.join(TASKS)}")
    if unknown := sorted(set(task) - {"name", *TASKS[name].keys}):
        raise ValueError(f"task {name!r}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(TASKS[name].keys)}")


def build_datasets(task: dict, data_dir=None) -> tuple[Dataset, Dataset, Dataset, dict]:
    """(train, val, test, model dims) of a task config (see ``configs/classify/*.yaml``).

    Parameters
    ----------
    task
        The task config.
    data_dir
        Where the datasets are.

    Returns
    -------
    tuple
        (train, val, test, model dims).
    """
    check_task(task)
    return TASKS[task["name"]].build(task, data_dir)


def _hold_out(train: Dataset, task: dict) -> tuple[Dataset, Dataset]:
    """A seeded validation split of ``val_size`` items; ``train_subset`` keeps the first n of the rest."""
    n_val = task.get("val_size", 5000)
    if not (isinstance(n_val, int) and not isinstance(n_val, bool) and 1 <= n_val < len(train)):
        raise ValueError(
            f"task.val_size must be a whole number from 1 to {len(train) - 1} (the {len(train)} training items, "
            f"less one to train on); got {n_val!r}"
        )
    subset = task.get("train_subset")
    if subset is not None and not (isinstance(subset, int) and not isinstance(subset, bool) and subset >= 1):
        raise ValueError(f"task.train_subset must be a positive whole number; got {subset!r}")
    train, val = random_split(train, [len(train) - n_val, n_val], generator=torch.Generator().manual_seed(0))
    if task.get("train_subset"):
        train = torch.utils.data.Subset(train, range(min(task["train_subset"], len(train))))
    return train, val


class ClassificationData(pl.LightningDataModule):
    """Train / val / test loaders of a task, drawn by seeded batch samplers that split batches across DDP
    processes themselves (the trainer runs with ``use_distributed_sampler=False``). The padded tasks
    (ListOps, Text) batch sequences of similar length
    (:class:`~s4forecast.classification.batching.LengthBatches`), so a batch is padded to little more than
    its own lengths; the others, and task key ``length_batches: false``, draw random batches
    (:class:`~s4forecast.classification.batching.SeededBatches`). Both are seeded from torch's generator
    and the train loader keeps its position in Lightning's checkpoints
    (:class:`~s4forecast.classification.batching.ResumableLoader`).

    Parameters
    ----------
    task
        The task config (``name`` and that task's keys).
    batch_size
        Sequences a batch.
    data_dir
        Where the datasets are; None: ``$S4FORECAST_DATA_DIR``.
    num_workers
        DataLoader workers.
    """

    def __init__(self, task: dict, batch_size: int = 64, data_dir=None, num_workers: int = 0):
        super().__init__()
        self.task, self.batch_size, self.data_dir, self.num_workers = task, batch_size, data_dir, num_workers
        self.train, self.val, self.test, self.dims = build_datasets(task, data_dir)
        self.collate = pad_batch if task["name"] in ("listops", "imdb") else None
        self.seed = int(torch.randint(2**31 - 1, ()))

    def _batches(self, ds, shuffle: bool) -> SeededBatches:
        lengths = item_lengths(ds) if self.collate is pad_batch and self.task.get("length_batches", True) else None
        if lengths is None:
            return SeededBatches(len(ds), self.batch_size, shuffle=shuffle, seed=self.seed)
        return LengthBatches(lengths, self.batch_size, shuffle=shuffle, seed=self.seed)

    def _loader(self, ds, shuffle):
        """A loader with a generator of its own: starting a pass (each draws a base seed for its workers)
        leaves torch's global generator, whose state a resumed run restores (dropout), alone."""
        return ResumableLoader(
            ds,
            self._batches(ds, shuffle),
            collate_fn=self.collate,
            num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self):
        return self._loader(self.train, True)

    def val_dataloader(self):
        return self._loader(self.val, False)

    def test_dataloader(self):
        return self._loader(self.test, False)
