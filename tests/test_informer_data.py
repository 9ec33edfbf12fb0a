"""Informer protocol: split borders, train-only scaler, metrics, data files and the benchmark runner."""

import gzip
import hashlib

import numpy as np
import pandas as pd
import pytest
import yaml

from s4forecast.data import files
from s4forecast.data.informer import borders, load_csv, load_informer
from s4forecast.forecasting.evaluation import scores


def test_ett_borders_match_informer_code():
    # Informer's Dataset_ETT_hour: border1s = [0, 12*30*24 - seq_len, 12*30*24 + 4*30*24 - seq_len]
    b = borders("ett-hour", 17420, 96)
    assert b == {"train": (0, 8640), "val": (8640 - 96, 11520), "test": (11520 - 96, 14400)}
    assert borders("ett-minute", 69680, 96)["test"] == (46080 - 96, 57600)


def test_ratio_borders_match_informer_code():
    n = 35064  # WTH: num_train = int(n*0.7), num_test = int(n*0.2), val = the rest
    b = borders("ratio", n, 48)
    assert b == {"train": (0, 24544), "val": (24544 - 48, 28052), "test": (28052 - 48, 35064)}


def write_csv(path, n=200):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"date": pd.date_range("2020-01-01", periods=n, freq="h"), "a": rng.normal(5, 2, n), "OT": np.arange(n, dtype=float)}
    )
    df.to_csv(path, index=False)
    return df


def test_scaler_fit_on_train_rows_only(tmp_path):
    df = write_csv(tmp_path / "x.csv")
    s = load_csv(tmp_path / "x.csv", target="OT", features="S", lookback=10)
    # train = rows [0, 140): OT = 0..139, mean 69.5, population std sqrt((140^2-1)/12)
    mean, std = 69.5, np.sqrt((140**2 - 1) / 12)
    np.testing.assert_allclose(s.scaler.mean_, [mean])
    np.testing.assert_allclose(s.scaler.scale_, [std])
    np.testing.assert_allclose(s.train.values()[:, 0], (np.arange(140) - mean) / std, rtol=1e-5)
    # test = rows [int(200*0.8) - 10, 200) = [150, 200), scaled with the train statistics
    assert len(s.test) == 50 and s.test.start_time() == df.date[150]
    np.testing.assert_allclose(s.test.values()[0, 0], (150 - mean) / std, rtol=1e-5)
    m = load_csv(tmp_path / "x.csv", target="OT", features="M", lookback=10)
    assert m.columns == ["a", "OT"] and m.train.n_components == 2


def test_bad_csv_inputs(tmp_path):
    write_csv(tmp_path / "x.csv")
    with pytest.raises(ValueError, match="columns \\['nope'\\] not in the data"):
        load_csv(tmp_path / "x.csv", target="nope", features="S", lookback=10)
    with pytest.raises(ValueError, match="lookback 500"):
        load_csv(tmp_path / "x.csv", target="OT", features="S", lookback=500)
    with pytest.raises(ValueError, match="features must be"):
        load_csv(tmp_path / "x.csv", target="OT", features="X", lookback=10)


def test_scores_against_hand_computation():
    f = np.array([[[1.0], [2.0]], [[0.0], [4.0]]])
    t = np.array([[[0.0], [2.0]], [[1.0], [1.0]]])
    # errors 1, 0, -1, 3: MSE (1+0+1+9)/4, MAE (1+0+1+3)/4
    assert scores(f, t) == {"mse": 2.75, "mae": 1.25}


def test_fetch_verifies_checksum_downloads_and_reads_gzip(tmp_path):
    payload = b"date,OT\n2020-01-01 00:00:00,1\n"
    src = tmp_path / "src.csv"
    src.write_bytes(payload)
    good = files.RemoteFile("d.csv", src.as_uri(), "sha256:" + hashlib.sha256(payload).hexdigest())
    target = tmp_path / "data"
    assert files.fetch(good, target) == payload  # downloaded
    assert (target / "d.csv").read_bytes() == payload
    gz_dir = tmp_path / "gz"
    gz_dir.mkdir()
    (gz_dir / "d.csv.gz").write_bytes(gzip.compress(payload))
    assert files.fetch(good, gz_dir, download=False) == payload
    bad = files.RemoteFile("e.csv", src.as_uri(), "sha256:" + "0" * 64)
    with pytest.raises(ValueError, match="checksum mismatch"):
        files.fetch(bad, tmp_path / "other")
    blob = files.RemoteFile("d.csv", src.as_uri(), files.digest(payload, "git-blob-sha1:"))
    assert files.fetch(blob, target) == payload


def test_missing_file_error_has_the_download_hint(tmp_path):
    remote = files.RemoteFile("ECL.csv", "https://example.invalid/ECL.csv", "sha256:" + "0" * 64)
    with pytest.raises(FileNotFoundError, match="Download it from https://example.invalid/ECL.csv"):
        files.fetch(remote, tmp_path, download=False)


def test_real_data_shapes(data_dir):
    s = load_informer("ETTm1", "M", 96, data_dir)
    assert (len(s.train), len(s.val), len(s.test)) == (34560, 11520 + 96, 11520 + 96)
    assert s.train.n_components == 7 and str(s.train.freq) == "<15 * Minutes>"
    w = load_informer("WTH", "S", 96, data_dir)
    assert w.columns == ["WetBulbCelsius"] and abs(w.train.values().mean()) < 1e-4


def tiny_config_dir(tmp_path, batches: int, model: str, **model_overrides):
    """A config dir with ETTh1 at horizon 24, lookback 48, one epoch of ``batches`` batches and a
    small ``model`` section."""
    from benchmarks.informer import config

    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    base = yaml.safe_load((config.CONFIG_DIR / "base.yaml").read_text())
    base["lookback"] = 48
    base["trainer"] |= {"max_epochs": 1, "limit_train_batches": batches}
    base[model] |= model_overrides
    (cfg_dir / "base.yaml").write_text(yaml.safe_dump(base))
    (cfg_dir / "ETTh1.yaml").write_text(yaml.safe_dump({"dataset": "ETTh1", "horizons": [24]}))
    return cfg_dir


def etth1_s_24_args(model: str, results, data_dir, config_dir=None) -> list[str]:
    """`run`'s command line for one model at ETTh1-S-24, without a progress bar."""
    config = ["--config-dir", str(config_dir)] if config_dir else []
    return [
        *("--dataset", "ETTh1", "--features", "S", "--horizon", "24", "--model", model),
        *("--results", str(results), "--data-dir", str(data_dir), "--no-progress"),
        *config,
    ]


def test_runner_end_to_end_writes_a_row(data_dir, tmp_path):
    from benchmarks.informer import run

    cfg_dir = tiny_config_dir(tmp_path, 3, "s4", d_model=8, n_layers=1, d_state=8)
    results = tmp_path / "results.csv"
    args = etth1_s_24_args("s4", results, data_dir, cfg_dir)
    run.main(args)
    df = pd.read_csv(results)
    assert len(df) == 1
    row = df.iloc[0]
    assert (row.dataset, row.features, row.horizon, row.model, row.status) == ("ETTh1", "S", 24, "s4", "ok")
    assert row.test_windows == 2880 - 24 + 1 and 0 < row.mse < 5 and 0 < row.mae < 5 and row.params > 0
    assert 0 < row.val_loss < 5  # early stopping's best val loss, the evidence for choosing between configs
    run.main(args)  # resumable: the finished setting is skipped
    assert len(pd.read_csv(results)) == 1
    # a short "not run" row keeps the columns aligned, and the finished setting is still found
    run.main(["--dataset", "ECL", "--results", str(results), "--data-dir", str(tmp_path / "empty"), "--no-progress"])
    df = pd.read_csv(results)
    assert list(df.status) == ["ok", "not run: data absent"] and df.horizon.tolist()[0] == 24
    run.main(args)
    assert len(pd.read_csv(results)) == 2
    run.main(args + ["--set", "+s4.linear_skip=true"])  # a candidate config: a new row, not a skip
    df = pd.read_csv(results)
    assert len(df) == 3 and df.options.iloc[-1].endswith("linear_skip=True") and df.config_hash.iloc[-1] != df.config_hash.iloc[0]


def test_runner_marks_absent_data_instead_of_failing(tmp_path):
    from benchmarks.informer import run

    results = tmp_path / "results.csv"
    run.main(["--dataset", "ECL", "--results", str(results), "--data-dir", str(tmp_path / "empty"), "--no-progress"])
    df = pd.read_csv(results)
    assert list(df.status) == ["not run: data absent"] and df.dataset[0] == "ECL"


def test_report_counts_wins_and_lists_losses(tmp_path):
    from benchmarks.informer import config, report

    CURRENT = {"s4": {"lr": 1.0, "subtract_last": True}}

    published = pd.DataFrame(
        {
            "dataset": ["ETTh1", "ETTh1", "ECL"],
            "features": ["S", "S", "S"],
            "horizon": [24, 48, 48],
            "s4_mse": [0.06, 0.08, 0.3],
            "s4_mae": [0.2, 0.2, 0.4],
            "informer_mse": [0.1, 0.16, 0.4],
            "informer_mae": [0.2, 0.3, 0.5],
        }
    )
    rows = [
        ("ETTh1", "S", 24, "s4", 0.05, "ok"),
        ("ETTh1", "S", 24, "nlinear", 0.04, "ok"),
        ("ETTh1", "S", 48, "s4", 0.09, "ok"),
        ("ETTh1", "S", 48, "s4", 0.07, "ok"),  # a re-run replaces the first
        ("ETTh1", "S", 48, "tide", 0.075, "ok"),
        ("ETTh1", "S", 48, "dlinear", 0.2, "ok"),
        ("ETTh1", "S", 24, "informer", 0.01, "ok"),
    ]  # the Informer re-run is its own column, not a baseline
    results = pd.DataFrame(rows, columns=["dataset", "features", "horizon", "model", "mse", "status"]).assign(
        mae=0.1, lookback=96, epochs=1, options="", config_hash=config.config_hash(CURRENT, "s4")
    )
    results.loc[len(results)] = {"dataset": "ECL", "status": "not run: data absent"}
    candidate = {
        "dataset": "ETTh1",
        "features": "S",
        "horizon": 48,
        "model": "s4",
        "mse": 0.01,
        "status": "ok",
        "config_hash": "other",
    }
    cfgs = {("ETTh1", "S", 24): CURRENT, ("ETTh1", "S", 48): CURRENT, ("ECL", "S", 48): CURRENT}
    assert report.table(pd.concat([results, pd.DataFrame([candidate])]), published).ours_mse.tolist()[1] == 0.01
    results = pd.concat([results, pd.DataFrame([candidate])], ignore_index=True)
    out = report.table(results, published, cfgs)  # the later row of a config not adopted is left out
    assert out.ours_mse.tolist()[1] == 0.07 and out.ours_options.tolist()[1] == "subtract_last=True"
    assert out.status.tolist() == ["ok", "ok", "not run: data absent"]
    assert out.beats_published_s4.tolist()[:2] == [True, True] and out.beats_baselines.tolist()[:2] == [False, True]
    assert out.baseline_model.tolist()[:2] == ["nlinear", "tide"]
    assert out.informer_rerun_mse.tolist()[0] == 0.01 and out.beats_informer_rerun.tolist()[:2] == [False, False]
    text = report.write(out, tmp_path / "RESULTS.md", tmp_path / "plot.png")
    assert "ours beats the best Darts baseline run on the same windows: 1 / 2" in text
    assert "- to the best Darts baseline: 1 of 2: ETTh1-S-24 1.25 (nlinear)" in text
    assert "ours beats our Informer re-run (neuralforecast's Informer, same windows and budget): 0 / 1" in text
    assert "| ETTh1 | S | 48 | **0.070** | 0.100 | 96 | 0.080 |" in text  # ours (best: bold), lookback, published S4
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_val_curve_variant_overrides():
    from benchmarks.informer import config

    cfg = config.load("ETTh1", "S")
    before = config.config_hash(cfg, "s4")
    low = config.override(cfg, ["s4.lr=3e-4", "trainer.patience=7", "lookback=96"])
    assert (low["s4"]["lr"], low["trainer"]["patience"], low["lookback"]) == (3e-4, 7, 96)
    assert config.config_hash(cfg, "s4") == before  # the base config is untouched
    with pytest.raises(KeyError, match="s4.lrr"):
        config.override(cfg, ["s4.lrr=1"])
    assert config.override(cfg, ["+s4.subtract_last=true"])["s4"]["subtract_last"] is True
    assert "subtract_last" not in cfg["s4"]
    with pytest.raises(ValueError, match="key=value"):
        config.override(cfg, ["s4.lr"])
    # removing a key gives back the config without it, hash included, and leaves the input alone
    patched = config.override(cfg, ["+s4.patch_len=16"])
    assert config.config_hash(config.override(patched, ["~s4.patch_len"]), "s4") == before
    assert patched["s4"]["patch_len"] == 16
    with pytest.raises(KeyError, match="s4.patch_len"):
        config.override(cfg, ["~s4.patch_len"])
    with pytest.raises(ValueError, match="~key"):
        config.override(patched, ["~s4.patch_len=1"])


def test_config_hash_is_scoped_to_the_model():
    """A row stays valid when another model's section changes, and not when its own does."""
    from benchmarks.informer import config

    cfg = config.load("ETTh1", "S")
    other = config.override(cfg, ["tide.lr=0.5"])
    assert config.config_hash(other, "s4") == config.config_hash(cfg, "s4")
    assert config.config_hash(other, "tide") != config.config_hash(cfg, "tide")
    assert config.config_hash(config.override(cfg, ["trainer.patience=9"]), "s4") != config.config_hash(cfg, "s4")


def test_runner_informer_rerun_writes_a_row(data_dir, tmp_path):
    """The Informer re-run (neuralforecast's Informer through Darts) goes through the same runner."""
    pytest.importorskip("neuralforecast")
    from benchmarks.informer import run

    cfg_dir = tiny_config_dir(tmp_path, 2, "informer", hidden_size=8, n_head=2, encoder_layers=1)
    results = tmp_path / "results.csv"
    run.main(etth1_s_24_args("informer", results, data_dir, cfg_dir))
    row = pd.read_csv(results).iloc[0]
    assert (row.model, row.status, row.test_windows) == ("informer", "ok", 2880 - 24 + 1)
    assert 0 < row.mse < 5 and row.params > 0


def test_runner_skips_a_model_whose_package_is_missing(monkeypatch, data_dir, tmp_path, caplog):
    import importlib.util

    from benchmarks.informer import run

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "neuralforecast" else find_spec(name, *a))
    results = tmp_path / "results.csv"
    run.main(etth1_s_24_args("informer", results, data_dir))
    assert not results.exists()
    assert "pip install 's4forecast[informer]'" in caplog.text


def test_config_layers_by_features_then_by_horizon(tmp_path):
    """base < dataset file < by_features[F] < by_horizon[H] (top level, then inside by_features); a
    horizon override changes that horizon's s4 hash only."""
    from benchmarks.informer import config

    (tmp_path / "base.yaml").write_text("lookback: 10\nhorizons: [1, 2]\ns4: {lr: 1.0, d_model: 4}\n")
    (tmp_path / "X.yaml").write_text(
        "s4: {lr: 2.0}\n"
        "by_horizon: {2: {s4: {d_model: 8}}}\n"
        "by_features:\n  S:\n    s4: {lr: 3.0}\n    by_horizon: {2: {s4: {linear_skip: true}}}\n"
    )
    assert config.load("X", "S", tmp_path) == {"lookback": 10, "horizons": [1, 2], "s4": {"lr": 3.0, "d_model": 4}}
    assert config.load("X", "S", tmp_path, 1) == config.load("X", "S", tmp_path)
    two = config.load("X", "S", tmp_path, 2)
    assert two["s4"] == {"lr": 3.0, "d_model": 8, "linear_skip": True}
    assert config.load("X", "M", tmp_path, 2)["s4"] == {"lr": 2.0, "d_model": 8}
    assert config.config_hash(two, "s4") != config.config_hash(config.load("X", "S", tmp_path, 1), "s4")


def test_choose_adopts_a_candidate_only_where_its_val_loss_is_lower(tmp_path):
    from benchmarks.informer import choose, config

    (tmp_path / "base.yaml").write_text("lookback: 10\nhorizons: [1, 2]\ns4: {lr: 1.0}\n")
    (tmp_path / "X.yaml").write_text("by_horizon: {2: {s4: {lr: 2.0}}}\n")
    cand = ["+s4.linear_skip=true"]
    h = {
        hz: (
            config.config_hash(config.load("X", "S", tmp_path, hz), "s4"),
            config.config_hash(config.override(config.load("X", "S", tmp_path, hz), cand), "s4"),
        )
        for hz in (1, 2)
    }
    rows = [
        (1, h[1][0], 0.50, 0.9),
        (1, h[1][1], 0.40, 0.1),  # candidate lower on val: adopt
        (2, h[2][0], 0.30, 0.9),
        (2, h[2][1], 0.35, 0.1),  # candidate higher on val, lower on test: keep
        (2, h[2][0], 0.20, 0.8),
    ]  # a re-run of the current config replaces the first
    results = pd.DataFrame(rows, columns=["horizon", "config_hash", "val_loss", "mse"]).assign(
        dataset="X", features="S", model="s4", status="ok"
    )
    out = choose.compare(results, cand, tmp_path)
    assert out.adopt.tolist() == [True, False]
    assert out.current_val.tolist() == [0.50, 0.20] and out.candidate_test.tolist() == [0.1, 0.1]


def test_choose_over_seeds_ranks_on_mean_val_and_waits_for_every_seed(tmp_path):
    """Seed 0 alone would keep the current config; the mean over three seeds adopts the candidate. A
    setting missing one seed of either config is not judged."""
    from benchmarks.informer import choose, config

    (tmp_path / "base.yaml").write_text("lookback: 10\nseed: 0\nhorizons: [1, 2]\ns4: {lr: 1.0, patch_len: 4}\n")
    (tmp_path / "X.yaml").write_text("{}\n")
    cand = ["~s4.patch_len"]

    def hash_of(extra, seed):
        return config.config_hash(config.override(config.load("X", "S", tmp_path, 1), [*extra, f"seed={seed}"]), "s4")

    rows = [(1, hash_of([], s), v, t) for s, v, t in [(0, 0.40, 0.30), (1, 0.60, 0.50), (2, 0.50, 0.40)]]
    rows += [(1, hash_of(cand, s), v, t) for s, v, t in [(0, 0.45, 0.20), (1, 0.45, 0.30), (2, 0.45, 0.40)]]
    rows += [(2, hash_of([], s), 0.5, 0.5) for s in (0, 1, 2)] + [(2, hash_of(cand, s), 0.1, 0.1) for s in (0, 1)]
    results = pd.DataFrame(rows, columns=["horizon", "config_hash", "val_loss", "mse"]).assign(
        dataset="X", features="S", model="s4", status="ok"
    )
    assert choose.compare(results, cand, tmp_path).adopt.tolist() == [False, True]  # seed 0 only
    out = choose.compare(results, cand, tmp_path, seeds=[0, 1, 2])
    assert out.horizon.tolist() == [1] and out.adopt.tolist() == [True] and out.seeds.tolist() == [3]
    assert out.current_val.iloc[0] == pytest.approx(0.5) and out.candidate_test.iloc[0] == pytest.approx(0.3)
    assert out.candidate_test_sd.iloc[0] == pytest.approx(0.1)
    # a setting whose config lacks the removed key is left out, not an error
    (tmp_path / "X.yaml").write_text("by_horizon: {2: {s4: {patch_len: null}}}\n")
    (tmp_path / "base.yaml").write_text("lookback: 10\nseed: 0\nhorizons: [1, 2]\ns4: {lr: 1.0}\n")
    assert choose.compare(results, cand, tmp_path, seeds=[0, 1, 2]).empty


def test_choose_filters_features_before_applying_a_key_that_only_one_feature_set_has(tmp_path):
    from benchmarks.informer import choose, config

    (tmp_path / "base.yaml").write_text("lookback: 10\nhorizons: [1]\ns4: {lr: 1.0}\n")
    (tmp_path / "X.yaml").write_text("by_features: {M: {s4: {batch_size: 8}}}\n")
    cand = ["s4.batch_size=32"]
    hashes = {f: config.config_hash(config.load("X", f, tmp_path, 1), "s4") for f in "SM"}
    cand_hash = config.config_hash(config.override(config.load("X", "M", tmp_path, 1), cand), "s4")
    results = pd.DataFrame(
        [("S", hashes["S"], 0.5), ("M", hashes["M"], 0.5), ("M", cand_hash, 0.4)], columns=["features", "config_hash", "val_loss"]
    ).assign(dataset="X", horizon=1, mse=0.1, model="s4", status="ok")
    with pytest.raises(KeyError, match="s4.batch_size"):
        choose.compare(results, cand, tmp_path)
    out = choose.compare(results, cand, tmp_path, features="M")
    assert out.features.tolist() == ["M"] and out.adopt.tolist() == [True]


def test_done_matches_a_config_hash_that_looks_like_a_number(tmp_path):
    """A hash such as 3755154e54 is a float to pandas' default parser: the finished setting must still be
    found, or `run --all` trains it again."""
    from benchmarks.informer.run import append, done

    results = tmp_path / "results.csv"
    key = {"dataset": "ETTh1", "features": "S", "horizon": 24, "model": "s4", "config_hash": "3755154e54"}
    append(results, {**key, "mse": 0.1, "status": "ok"})
    assert done(results, key)
    assert not done(results, {**key, "config_hash": "3755154e55"})
