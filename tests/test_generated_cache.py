"""The on-disk cache of generated task data returns what the generator makes, generates once per setting,
and generates again when the setting or the generator's source changes."""

import numpy as np
import pytest

from s4forecast.classification import generated, listops, pathfinder


@pytest.fixture
def calls(monkeypatch, tmp_path):
    """A fresh cache, and the number of times each generator really ran."""
    monkeypatch.setenv("S4FORECAST_CACHE_DIR", str(tmp_path))
    counts = {"listops": 0, "pathfinder": 0}
    for module, name, key in ((listops, "generate_splits", "listops"), (pathfinder, "generate", "pathfinder")):
        real = getattr(module, name)

        def counted(*args, _real=real, _key=key, **kwargs):
            counts[_key] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    return counts


SIZES = {"train": 6, "val": 2, "test": 2}
LENGTHS = {"min_length": 20, "max_length": 80}


def test_listops_splits_are_generated_once_and_read_back_equal(calls):
    first = generated.listops_splits(SIZES, seed=3, **LENGTHS)
    again = generated.listops_splits(SIZES, seed=3, **LENGTHS)
    assert calls["listops"] == 1
    assert again == first == listops.generate_splits(SIZES, seed=3, **LENGTHS)


def test_another_seed_size_or_length_is_another_entry(calls):
    generated.listops_splits(SIZES, seed=3, **LENGTHS)
    generated.listops_splits(SIZES, seed=4, **LENGTHS)
    generated.listops_splits({**SIZES, "train": 7}, seed=3, **LENGTHS)
    generated.listops_splits(SIZES, seed=3, min_length=20, max_length=90)
    assert calls["listops"] == 4


def test_pathfinder_images_are_generated_once_and_read_back_equal(calls):
    images, labels = generated.pathfinder_images(4, size=32, seed=1)
    again, again_labels = generated.pathfinder_images(4, size=32, seed=1)
    assert calls["pathfinder"] == 1
    np.testing.assert_array_equal(again, images)
    np.testing.assert_array_equal(again_labels, labels)
    assert images.dtype == np.uint8 and images.shape == (4, 32, 32)


def test_an_edited_generator_is_not_read_from_the_cache(calls, monkeypatch):
    generated.listops_splits(SIZES, seed=3, **LENGTHS)
    monkeypatch.setattr(generated, "source_hash", lambda module: "edited")
    generated.listops_splits(SIZES, seed=3, **LENGTHS)
    assert calls["listops"] == 2


def test_the_cache_can_be_turned_off(calls, monkeypatch):
    monkeypatch.setenv("S4FORECAST_CACHE_DIR", "off")
    assert generated.cache_dir() is None
    generated.listops_splits(SIZES, seed=3, **LENGTHS)
    generated.listops_splits(SIZES, seed=3, **LENGTHS)
    assert calls["listops"] == 2
