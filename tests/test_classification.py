"""S4Classifier and the classification data: shapes, labels, padding, overfitting, the train script."""

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from s4forecast.classification import listops, mnist
from s4forecast.classification.data import pad_batch
from s4forecast.classification.model import S4Classifier, pool


def test_listops_labels_equal_a_reference_evaluation():
    """Labels from the generator's evaluator against an independent recursive evaluator."""

    def recursive(tokens):
        def parse(i):
            tok = tokens[i]
            if tok.isdigit():
                return int(tok), i + 1
            args, i = [], i + 1
            while tokens[i] != "]":
                v, i = parse(i)
                args.append(v)
            ops = {
                "[MAX": max,
                "[MIN": min,
                "[MED": lambda a: int(
                    sorted(a)[len(a) // 2] if len(a) % 2 else (sorted(a)[len(a) // 2 - 1] + sorted(a)[len(a) // 2]) / 2
                ),
                "[SM": lambda a: sum(a) % 10,
            }
            return ops[tok](args), i + 1

        return parse(0)[0]

    examples = listops.generate(30, seed=3, min_length=20, max_length=400)
    for tokens, label in examples:
        assert label == recursive(tokens)
        assert 20 <= len(tokens) <= 400
    assert len({label for _, label in examples}) > 3


def test_listops_spec_lengths_depth_and_tsv_reader(tmp_path):
    ((tokens, label),) = listops.generate(1, seed=0)
    assert 500 <= len(tokens) <= 2000
    depth = max(np.cumsum([(t in listops.OPERATORS) - (t == "]") for t in tokens]))
    assert depth <= 10
    # the vocabulary's string objects, shared: a new string a token made 100,000 expressions take 5.6 GB
    assert len({id(t) for t in tokens}) <= len(listops.VOCAB)
    path = tmp_path / "basic_test.tsv"
    path.write_text("Source\tTarget\n( ( [MAX 2 9 ) 3 ] )\t9\n[SM 5 6 ]\t1\n")
    assert listops.read_tsv(path) == [(["(", "(", "[MAX", "2", "9", ")", "3", "]", ")"], 9), (["[SM", "5", "6", "]"], 1)]
    assert listops.evaluate(listops.read_tsv(path)[0][0]) == 9


def write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_parser_roundtrip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    write_idx(tmp_path / "x.gz", images)
    np.testing.assert_array_equal(mnist.parse_idx(gzip.open(tmp_path / "x.gz").read()), images)
    with pytest.raises(ValueError, match="magic"):
        mnist.parse_idx(b"\x00\x01\x08\x01" + b"\x00" * 8)


def test_real_smnist_batches(data_dir):
    images, labels = mnist.load_mnist("test", data_dir)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,) and set(labels) == set(range(10))
    ds = mnist.SequentialImages(mnist.as_sequences(images[:8]), labels[:8])
    x, y = ds[3]
    assert x.shape == (784, 1) and 0 <= x.min() and x.max() <= 1 and y == labels[3]
    torch.testing.assert_close(x[:, 0].reshape(28, 28), torch.as_tensor(images[3] / 255.0, dtype=torch.float32))
    perm = mnist.permutation(784, 0)
    xp, _ = mnist.SequentialImages(mnist.as_sequences(images[:8]), labels[:8], perm)[3]
    torch.testing.assert_close(xp, x[torch.as_tensor(perm)])
    np.testing.assert_array_equal(perm, mnist.permutation(784, 0))  # fixed across calls (train = test)


@pytest.mark.parametrize("pooling", ["length-mean", "last"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_length_aware_pooling_ignores_padding(pooling, bidirectional):
    torch.manual_seed(0)
    model = S4Classifier(
        d_input=8,
        n_classes=10,
        d_model=16,
        n_layers=2,
        d_state=8,
        vocab_size=len(listops.VOCAB),
        pooling=pooling,
        bidirectional=bidirectional,
    ).eval()
    items = [listops.ListOps(listops.generate(2, seed=1, min_length=10, max_length=60))[i] for i in range(2)]
    x, y, lengths = pad_batch(items)
    alone = torch.cat([model(items[i][0][None], items[i][2][None]) for i in range(2)])
    torch.testing.assert_close(model(x, lengths), alone, rtol=1e-5, atol=1e-5)
    x_more = torch.nn.functional.pad(x, (0, 30))  # extra right padding
    torch.testing.assert_close(model(x_more, lengths), alone, rtol=1e-5, atol=1e-5)
    assert torch.allclose(pool(torch.ones(2, 5, 3), "last", torch.tensor([2, 5])), torch.ones(2, 3))


def test_classifier_overfits_a_tiny_batch():
    torch.manual_seed(0)
    x = torch.randn(16, 64, 3)
    y = torch.arange(16) % 4
    model = S4Classifier(
        d_input=3,
        n_classes=4,
        d_model=32,
        n_layers=2,
        d_state=16,
        l_max=64,
        dropout=0.0,
        lr=1e-2,
        weight_decay=0.0,
        schedule=None,
    )
    opt = model.configure_optimizers()
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    assert (model(x).argmax(-1) == y).float().mean() == 1.0


def test_bad_classifier_arguments():
    with pytest.raises(ValueError, match="pooling"):
        S4Classifier(1, 10, pooling="max")


def test_train_script_end_to_end(data_dir, tmp_path):
    from s4forecast.classification.job import classify

    cfg = {
        "name": "tiny",
        "seed": 0,
        "task": {"name": "smnist", "val_size": 64, "train_subset": 64},
        "batch_size": 32,
        "model": {"d_model": 8, "n_layers": 1, "d_state": 8},
        "output_dir": str(tmp_path),
        "trainer": {"max_epochs": 1, "limit_val_batches": 2, "limit_test_batches": 2, "enable_progress_bar": False},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = classify(path, data_dir)
    assert 0 <= result["test_acc"] <= 1 and (tmp_path / "tiny" / "last.ckpt").exists()
    cfg["trainer"]["max_epochs"] = 2  # re-run resumes from last.ckpt and trains one more epoch
    path.write_text(yaml.safe_dump(cfg))
    result_2 = classify(path, data_dir)
    assert result_2["epochs"] == 2
    # ... epoch 1 only: the finished epoch 0 is not trained again
    resumed = pd.read_csv(tmp_path / "tiny" / "lightning_logs" / "version_1" / "metrics.csv")
    assert set(resumed.dropna(subset=["train_loss_epoch"]).epoch) == {1}
    written = json.loads((tmp_path / "tiny" / "result.json").read_text())
    logged = [pd.read_csv(tmp_path / "tiny" / "lightning_logs" / f"version_{v}" / "metrics.csv") for v in (0, 1)]
    per_epoch = [f.dropna(subset=["val_acc"]).val_acc.iloc[-1] for f in logged]  # epoch 0, then epoch 1
    assert written["epochs"] == 2 and written["val_acc_per_epoch"] == pytest.approx(per_epoch, abs=1e-4)
    assert written["test_acc"] == pytest.approx(result_2["test_acc"]) and written["params"] > 0


def test_cifar_reader_parses_the_official_format(tmp_path):
    import pickle

    from s4forecast.classification import cifar
    from s4forecast.classification.data import build_datasets

    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = {}
    for name in cifar.BATCHES["train"] + cifar.BATCHES["test"]:
        data, labels = rng.integers(0, 256, (6, 3072), dtype=np.uint8), list(rng.integers(0, 10, 6))
        batches[name] = (data, labels)
        (folder / name).write_bytes(pickle.dumps({b"data": data, b"labels": labels, b"batch_label": name.encode()}))
    images, labels = cifar.load_cifar10("train", tmp_path)
    assert images.shape == (30, 32, 32, 3) and list(labels[:6]) == batches["data_batch_1"][1]
    first = batches["data_batch_1"][0][0]
    np.testing.assert_array_equal(images[0, 0, 1], [first[1], first[1024 + 1], first[2048 + 1]])  # R, G, B planes
    gray = cifar.as_sequences(images[:1], grayscale=True)
    assert gray.shape == (1, 1024, 1) and np.isclose(gray[0, 1, 0], first[1] * 0.2989 + first[1025] * 0.587 + first[2049] * 0.114)
    train, val, test, dims = build_datasets({"name": "scifar", "val_size": 6}, tmp_path)
    assert (len(train), len(val), len(test)) == (24, 6, 6) and dims["d_input"] == 3 and train[0][0].shape == (1024, 3)


def test_aan_reader_and_dual_encoder(tmp_path):
    from s4forecast.classification import text

    path = tmp_path / "new_aan_pairs.train.tsv"
    path.write_text("1\tA01\tB02\tfirst paper text\tsecond paper\n0\tA03\tB04\tanother\tunrelated words here\n")
    rows = text.read_aan_tsv(path)
    assert rows == [("first paper text", "second paper", 1), ("another", "unrelated words here", 0)]
    ds = text.DocumentPairs(rows, max_length=32)
    x, y, lengths = ds[0]
    assert x.shape == (2, 32) and y == 1 and lengths.tolist() == [16, 12]
    assert x[0, 0] == ord("f") + 1 and x[0, 16] == 0
    model = S4Classifier(
        d_input=8, n_classes=2, d_model=16, n_layers=1, d_state=8, vocab_size=text.VOCAB_SIZE, pooling="length-mean", dual=True
    )
    batch = torch.utils.data.default_collate([ds[0], ds[1]])
    assert model(batch[0], batch[2]).shape == (2, 2)
    bad = tmp_path / "bad.tsv"
    bad.write_text("1\tA\tonly three\n")
    with pytest.raises(ValueError, match="5 tab-separated"):
        text.read_aan_tsv(bad)


def test_real_imdb_bytes(data_dir):
    from s4forecast.classification import text

    reviews = text.load_imdb("test", data_dir, limit=20)
    assert len(reviews) == 20 and sorted(label for _, label in reviews) == [0] * 10 + [1] * 10  # balanced subset
    ds = text.ByteSequences(reviews, max_length=4096)
    ids, label, length = ds[0]
    assert ids.max() <= 256 and ids.min() >= 1 and length == min(len(reviews[0][0]), 4096)
    assert bytes((ids - 1).tolist()) == reviews[0][0][:4096]


def test_pathfinder_labels_equal_flood_fill_connectivity():
    from s4forecast.classification import pathfinder

    images, labels = pathfinder.generate(40, size=32, seed=0)
    assert images.shape == (40, 32, 32) and labels.mean() == 0.5
    for img, label in zip(images, labels):
        assert len(pathfinder.dots(img)) == 2
        assert pathfinder.connected(img) == bool(label)
        assert len(np.unique(img)) >= 3  # dashes: bright and dim segments, dots, background


def test_pathfinder_release_reader(tmp_path):
    from PIL import Image

    from s4forecast.classification import pathfinder

    images, labels = pathfinder.generate(4, size=32, seed=1)
    (tmp_path / "imgs" / "0").mkdir(parents=True)
    (tmp_path / "metadata").mkdir()
    rows = []
    for i, (img, label) in enumerate(zip(images, labels)):
        Image.fromarray(img).save(tmp_path / "imgs" / "0" / f"sample_{i}.png")
        rows.append(["imgs/0", f"sample_{i}.png", 0, label])
    np.save(tmp_path / "metadata" / "0.npy", np.array(rows, dtype=object))
    got_images, got_labels = pathfinder.read_release(tmp_path)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def _tiny_config(tmp_path, name, checkpoint_minutes=None, **trainer):
    cfg = {
        "name": name,
        "seed": 0,
        "task": {"name": "smnist", "val_size": 64, "train_subset": 96},
        "batch_size": 32,
        "model": {"d_model": 8, "n_layers": 1, "d_state": 8, "dropout": 0.1},
        "trainer": {"max_epochs": 2, "limit_val_batches": 1, "limit_test_batches": 1, "enable_progress_bar": False, **trainer},
    }
    if checkpoint_minutes is not None:
        cfg["checkpoint_minutes"] = checkpoint_minutes
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _killed_after(steps: int, monkeypatch):
    """Make training die (as a killed process would: no checkpoint on the way out) on the batch after
    ``steps`` optimiser steps."""
    from s4forecast.classification.model import S4Classifier

    def training_step(self, batch, batch_idx):
        if self.trainer.global_step == steps:
            raise RuntimeError("killed")
        return original(self, batch, batch_idx)

    original = S4Classifier.training_step
    monkeypatch.setattr(S4Classifier, "training_step", training_step)


@pytest.mark.parametrize("stop", [3, 1, 4], ids=["epoch-end", "killed-mid-first-epoch", "killed-mid-second-epoch"])
def test_run_resumed_from_an_export_on_a_fresh_machine_trains_as_the_uninterrupted_one(data_dir, tmp_path, monkeypatch, stop):
    """2 epochs straight (3 batches each) == stopped after ``stop`` steps (at the end of the first epoch,
    or killed inside an epoch after a checkpoint at every step), export, resume from the file in another
    runs dir, the rest: same batches (a run stopped inside an epoch reads that epoch's remaining batches),
    same dropout draws, same schedule, so the same float32 weights; the best val checkpoint travels in the
    export, so the resumed run tests the same weights as the straight one, from its own run dir."""
    from s4forecast.classification.job import classify, export
    from s4forecast.classification.run_state import read_export

    monkeypatch.setenv("S4FORECAST_RUNS_DIR", str(tmp_path / "machine_a"))
    straight_result = classify(_tiny_config(tmp_path, "straight"), data_dir, progress=False)
    if stop % 3 == 0:  # the schedule of 2 epochs, stopped after the first
        half = _tiny_config(tmp_path, "split", max_steps=stop)
        classify(half, data_dir, progress=False)
    else:
        half = _tiny_config(tmp_path, "split", checkpoint_minutes=1e-9)  # last.ckpt after every step
        with monkeypatch.context() as patched:
            _killed_after(stop, patched)
            with pytest.raises(RuntimeError, match="killed"):
                classify(half, data_dir, progress=False)
    position = f"epoch {stop // 3}, batch {stop % 3}" if stop % 3 else "epoch 0, batch 3"
    assert f"step {stop} ({position})" in export(half, tmp_path / "split.ckpt.gz")
    assert read_export(tmp_path / "split.ckpt.gz")["global_step"] == stop
    monkeypatch.setenv("S4FORECAST_RUNS_DIR", str(tmp_path / "machine_b"))  # a fresh machine: no run dir
    result = classify(_tiny_config(tmp_path, "split"), data_dir, progress=False, resume_from=tmp_path / "split.ckpt.gz")
    straight = torch.load(tmp_path / "machine_a" / "straight" / "last.ckpt", weights_only=False)["state_dict"]
    resumed = torch.load(tmp_path / "machine_b" / "split" / "last.ckpt", weights_only=False)["state_dict"]
    assert straight.keys() == resumed.keys()
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=0, msg=key)
    assert result["epochs"] == 2 and len(result["val_acc_per_epoch"]) == 2  # the curve travels in the export
    assert Path(result["checkpoint"]).parent == (tmp_path / "machine_b" / "split").resolve()
    assert Path(result["checkpoint"]).name == Path(straight_result["checkpoint"]).name  # the same best epoch
    assert result["test_acc"] == straight_result["test_acc"]


def test_bfloat16_export_resumes_to_the_uninterrupted_run_within_its_rounding(data_dir, tmp_path, monkeypatch):
    """The compact export: weights and Adam's moments stored as bfloat16 (step counts exact), put back as
    float32; after the second epoch the weights equal the uninterrupted run's to bfloat16's rounding
    (8 significant bits: 2**-8 relative, plus what 3 steps make of it), and not exactly (it did round)."""
    from s4forecast.classification.job import classify, export
    from s4forecast.classification.run_state import read_export

    monkeypatch.setenv("S4FORECAST_RUNS_DIR", str(tmp_path / "machine_a"))
    classify(_tiny_config(tmp_path, "straight"), data_dir, progress=False)
    classify(_tiny_config(tmp_path, "split", max_steps=3), data_dir, progress=False)
    assert "bfloat16" in export(_tiny_config(tmp_path, "split"), tmp_path / "bf16.ckpt.gz", dtype="bfloat16")
    exported = read_export(tmp_path / "bf16.ckpt.gz")
    assert {v.dtype for v in exported["state_dict"].values() if v.is_floating_point()} == {torch.bfloat16}
    moments = [m for s in exported["optimizer_states"][0]["state"].values() for k, m in s.items() if k != "step"]
    assert moments and {m.dtype for m in moments} == {torch.bfloat16}
    monkeypatch.setenv("S4FORECAST_RUNS_DIR", str(tmp_path / "machine_b"))
    classify(_tiny_config(tmp_path, "split"), data_dir, progress=False, resume_from=tmp_path / "bf16.ckpt.gz")
    straight = torch.load(tmp_path / "machine_a" / "straight" / "last.ckpt", weights_only=False)["state_dict"]
    resumed = torch.load(tmp_path / "machine_b" / "split" / "last.ckpt", weights_only=False)["state_dict"]
    assert all(resumed[k].dtype == straight[k].dtype for k in straight)  # float32 again
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=2e-2, atol=2e-3, msg=key)
    assert any(not torch.equal(resumed[k], straight[k]) for k in straight if straight[k].is_floating_point())


def test_export_dtype_is_checked(tmp_path, monkeypatch, capsys):
    from s4forecast.classification.job import export
    from s4forecast.cli import main

    monkeypatch.setenv("S4FORECAST_RUNS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="export dtype must be one of float32, bfloat16; got 'float16'"):
        export(_tiny_config(tmp_path, "never"), tmp_path / "x.gz", dtype="float16")
    with pytest.raises(SystemExit):  # the precision of an export, asked for without one: not silently ignored
        main(["classify", "--config", str(_tiny_config(tmp_path, "never")), "--export-dtype", "bfloat16"])
    err = capsys.readouterr().err
    assert "--export-dtype is the precision of --export FILE" in err and "Traceback" not in err


def test_export_without_a_run_names_the_missing_checkpoint(tmp_path, monkeypatch):
    from s4forecast.classification.job import export

    monkeypatch.setenv("S4FORECAST_RUNS_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no run to export"):
        export(_tiny_config(tmp_path, "never"), tmp_path / "x.gz")


def test_malloc_library_is_the_preloaded_allocator_else_the_c_librarys(monkeypatch, tmp_path):
    import platform

    from s4forecast.classification import allocator

    maps = tmp_path / "maps"
    monkeypatch.setattr(allocator, "PROC_MAPS", maps)
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    assert allocator.malloc_library() == platform.libc_ver()[0]
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4\n")
    assert allocator.malloc_library() == "tcmalloc"
    assert allocator.limit_heap_growth() is False  # glibc's threshold would not reach tcmalloc's blocks


def test_heap_growth_is_limited_under_glibc(monkeypatch, tmp_path):
    """The classify job sets glibc's mmap threshold (variable-length batches fragment the heap); elsewhere
    it says it did nothing."""
    import platform

    from s4forecast.classification import allocator

    monkeypatch.setattr(allocator, "PROC_MAPS", tmp_path / "absent")
    assert allocator.limit_heap_growth() == (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")


def test_allocator_hint_names_tcmalloc_else_huge_pages_where_they_apply(monkeypatch, tmp_path):
    """Under glibc's malloc: tcmalloc where the system has it; otherwise the huge-pages tunable where glibc
    >= 2.35 and huge pages are not off, silent once it is set, off glibc, on an older glibc, or with huge
    pages ``never``. Silent under a preloaded allocator."""
    import ctypes.util
    import platform

    from s4forecast.classification import allocator

    thp, maps = tmp_path / "enabled", tmp_path / "maps"
    monkeypatch.setattr(allocator, "TRANSPARENT_HUGE_PAGES", thp)
    monkeypatch.setattr(allocator, "PROC_MAPS", maps)
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "libtcmalloc_minimal.so.4" if "tcmalloc" in name else None)
    monkeypatch.setattr(platform, "libc_ver", lambda: ("glibc", "2.36"))
    assert "LD_PRELOAD=libtcmalloc_minimal.so.4" in allocator.allocator_hint()
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4\n")
    assert allocator.allocator_hint() is None
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)  # no tcmalloc here
    thp.write_text("always [madvise] never\n")
    for libc, expected in [(("glibc", "2.36"), True), (("glibc", "2.31"), False), (("", ""), False)]:
        monkeypatch.setattr(platform, "libc_ver", lambda libc=libc: libc)
        hint = allocator.allocator_hint()
        assert (hint is not None and "GLIBC_TUNABLES=glibc.malloc.hugetlb=1" in hint) == expected, libc
    monkeypatch.setattr(platform, "libc_ver", lambda: ("glibc", "2.36"))
    thp.write_text("always madvise [never]\n")
    assert allocator.allocator_hint() is None
    thp.write_text("[always] madvise never\n")
    assert allocator.allocator_hint() is not None
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1")
    assert allocator.allocator_hint() is None
