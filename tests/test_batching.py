"""Length-bucketed batches for the padded classification tasks."""

import numpy as np
import pytest
import torch
from torch.utils.data import Subset

from s4forecast.classification import listops, text
from s4forecast.classification.batching import LengthBatches, item_lengths
from s4forecast.classification.data import ClassificationData
from s4forecast.trainers import quiet_trainer


def padded_positions(batches, lengths) -> int:
    """Positions a batch pads to (its longest item) times its size, summed over batches."""
    return sum(max(lengths[i] for i in b) * len(b) for b in batches)


def test_every_item_once_a_pass_in_a_new_seeded_order():
    lengths = np.random.default_rng(0).integers(500, 2000, size=1003)
    sampler = LengthBatches(lengths, batch_size=32, pool=4, seed=7)
    first, second = list(sampler), list(sampler)
    for batches in (first, second):
        assert len(batches) == len(sampler) == 32 and all(1 <= len(b) <= 32 for b in batches)
        assert sorted(i for b in batches for i in b) == list(range(1003))
    assert first != second  # the counter advanced
    again = LengthBatches(lengths, batch_size=32, pool=4, seed=7)
    assert list(again) == first  # seeded by (seed, epoch)
    again.set_epoch(0)
    assert list(again) == first


def test_batches_pad_to_little_more_than_their_own_lengths():
    lengths = np.random.default_rng(1).integers(500, 2000, size=2000)
    bucketed = padded_positions(LengthBatches(lengths, 32), lengths)
    perm = np.random.default_rng(2).permutation(2000)
    random = padded_positions([perm[i : i + 32] for i in range(0, 2000, 32)], lengths)
    assert bucketed < 1.05 * lengths.sum() < 1.5 * lengths.sum() < random
    evaluation = LengthBatches(lengths, 32, shuffle=False)
    ordered = list(evaluation)
    assert ordered == list(evaluation)  # the same every pass
    by_length = np.argsort(lengths, kind="stable").tolist()
    assert sorted(ordered) == sorted(by_length[i : i + 32] for i in range(0, 2000, 32))  # cut from the sorted items
    first = [i for b in ordered[:10] for i in b]  # what limit_val_batches=10 reads: every length, not the shortest
    assert lengths[first].mean() > np.percentile(lengths, 25) and lengths[first].max() > np.percentile(lengths, 75)


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="batch_size and pool"):
        LengthBatches([1, 2], batch_size=0)


def test_item_lengths_are_the_items_lengths_through_subsets():
    examples = listops.generate(40, seed=0, min_length=20, max_length=80)
    data = Subset(Subset(listops.ListOps(examples), range(5, 35)), [3, 0, 17])
    assert item_lengths(data) == [len(data[i][0]) for i in range(3)]
    reviews = text.ByteSequences([("é" * 10, 0), (b"x" * 50, 1), ("ab", 0)], max_length=16)  # é is 2 bytes
    assert item_lengths(reviews) == [len(reviews[i][0]) for i in range(3)] == [16, 16, 2]
    assert item_lengths(torch.utils.data.TensorDataset(torch.zeros(3))) is None


def test_padded_tasks_load_length_batches_and_every_item():
    task = {"name": "listops", "n_train": 120, "n_val": 20, "n_test": 20, "min_length": 20, "max_length": 120}
    data = ClassificationData(task, batch_size=8)
    loader = data.train_dataloader()
    assert isinstance(loader.batch_sampler, LengthBatches)
    seen = 0
    for x, _, lengths in loader:
        assert x.shape[1] == int(lengths.max())  # padded to its own longest item
        seen += len(lengths)
    assert seen == len(data.train)
    assert (
        ClassificationData({**task, "length_batches": False}, batch_size=8).train_dataloader().batch_sampler.__class__
        is not LengthBatches
    )


def test_lightning_draws_a_new_order_each_epoch():
    import pytorch_lightning as pl

    from s4forecast.classification.model import S4Classifier

    task = {"name": "listops", "n_train": 64, "n_val": 16, "n_test": 16, "min_length": 20, "max_length": 60, "d_embed": 8}
    data = ClassificationData(task, batch_size=16)
    model = S4Classifier(**data.dims, d_model=8, n_layers=1, d_state=8, pooling="length-mean")
    trainer = pl.Trainer(**quiet_trainer(max_epochs=2))
    trainer.fit(model, datamodule=data)
    assert trainer.train_dataloader.batch_sampler.epoch == 2  # one pass per epoch, each in its own order


def test_a_misspelt_task_key_is_named_not_ignored():
    with pytest.raises(ValueError, match="task 'listops': unknown key.s. length_batch;"):
        ClassificationData({"name": "listops", "n_train": 8, "n_val": 2, "n_test": 2, "length_batch": False})
    with pytest.raises(ValueError, match="unknown task 'list-ops'"):
        ClassificationData({"name": "list-ops"})
