"""Lightning data module over the classification tasks: train/val/test datasets and padding."""
from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset, random_split

from s4forecast.classification import listops, mnist


def pad_batch(batch):
    """(x (L_i, ...), y, length) items -> (x (B, max L, ...) right-padded with 0, y (B,), lengths (B,))."""
    xs, ys, lengths = zip(*batch)
    return pad_sequence(list(xs), batch_first=True), torch.stack(ys), torch.stack(lengths)


def build_datasets(task: dict, data_dir=None) -> tuple[Dataset, Dataset, Dataset, dict]:
    """(train, val, test, model dims) of a task config (see configs/classify/*.yaml)."""
    name = task["name"]
    if name in ("smnist", "psmnist"):
        perm = mnist.permutation(784, task.get("permutation_seed", 0)) if name == "psmnist" else None
        train = mnist.SequentialImages(*mnist.load_mnist("train", data_dir), perm)
        test = mnist.SequentialImages(*mnist.load_mnist("test", data_dir), perm)
        n_val = task.get("val_size", 5000)
        train, val = random_split(train, [len(train) - n_val, n_val], generator=torch.Generator().manual_seed(0))
        if task.get("train_subset"):
            train = torch.utils.data.Subset(train, range(task["train_subset"]))
        return train, val, test, {"d_input": 1, "n_classes": 10, "l_max": 784}
    if name == "listops":
        lengths = dict(min_length=task.get("min_length", 500), max_length=task.get("max_length", 2000))
        splits = [listops.ListOps(listops.generate(task[f"n_{s}"], seed=i, **lengths)) for i, s in enumerate(("train", "val", "test"))]
        return *splits, {"d_input": task.get("d_embed", 64), "n_classes": 10, "l_max": lengths["max_length"],
                         "vocab_size": len(listops.VOCAB)}
    raise ValueError(f"unknown task {name!r}; valid: smnist, psmnist, listops")


class ClassificationData(pl.LightningDataModule):
    def __init__(self, task: dict, batch_size: int = 64, data_dir=None, num_workers: int = 0):
        super().__init__()
        self.task, self.batch_size, self.data_dir, self.num_workers = task, batch_size, data_dir, num_workers
        self.train, self.val, self.test, self.dims = build_datasets(task, data_dir)
        self.collate = pad_batch if task["name"] == "listops" else None

    def _loader(self, ds, shuffle):
        return DataLoader(ds, batch_size=self.batch_size, shuffle=shuffle, collate_fn=self.collate, num_workers=self.num_workers)

    def train_dataloader(self):
        return self._loader(self.train, True)

    def val_dataloader(self):
        return self._loader(self.val, False)

    def test_dataloader(self):
        return self._loader(self.test, False)
