"""Run settings of the Informer benchmark and append one row per (setting, model) to results.csv.

    python -m benchmarks.informer.run --dataset ETTh1 --features S --horizon 24 [--model s4]
    python -m benchmarks.informer.run --all [--models s4 nlinear] [--force]

A setting already in results.csv with the same config hash (of the shared keys and that model's
section, see config.config_hash) is skipped unless --force, so an interrupted run resumes where it
stopped. A dataset whose file is absent is recorded as "not run: data absent" instead of failing
the run; a model whose package is not installed is skipped with the install hint.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from pytorch_lightning.callbacks import EarlyStopping

from benchmarks.common import git_commit
from benchmarks.informer import config as configs
from benchmarks.informer.models import build, missing_dependency, n_parameters, with_epoch_cap
from s4forecast.data.informer import load_informer, read_frame
from s4forecast.forecasting.evaluation import scores, test_windows

RESULTS = Path(__file__).resolve().parent / "results" / "results.csv"
ALL_DATASETS = ["ETTh1", "ETTh2", "ETTm1", "WTH", "ECL"]
log = logging.getLogger("benchmarks.informer")


def read_results(path: Path) -> pd.DataFrame:
    """results.csv with ``config_hash`` and ``commit`` as strings: a hash such as ``3755154e54`` would
    otherwise be parsed as a number and no longer match its config."""
    return pd.read_csv(path, dtype={"config_hash": str, "commit": str})


def done(results: Path, key: dict) -> bool:
    if not results.exists():
        return False
    df = read_results(results)
    df = df[df.status == "ok"]
    match = (df[list(key)] == pd.Series(key)).all(axis=1)
    return bool(match.any())


def fit(model_name: str, cfg: dict, horizon: int, splits, work_dir: Path, progress: bool = True, callbacks: tuple = ()):
    """Train on train with early stopping on val, best-val weights restored: (model, early stopping, seconds)."""
    model = build(model_name, with_epoch_cap(cfg, model_name, splits.train.n_components), horizon, work_dir, progress, callbacks)
    start = time.perf_counter()
    early_stopping = next(c for c in model.trainer_params["callbacks"] if isinstance(c, EarlyStopping))
    model.fit(splits.train, val_series=splits.val, load_best=model.n_epochs > 0)  # an untrained model has no best epoch
    return model, early_stopping, time.perf_counter() - start


def run_setting(
    dataset: str, features: str, horizon: int, model_name: str, cfg: dict, data_dir=None, progress: bool = True
) -> dict:
    """Train on train (early stopping on val), evaluate on every test window; return the result row."""
    splits = load_informer(dataset, features, cfg["lookback"], data_dir)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work_dir:
        model, early_stopping, train_time = fit(model_name, cfg, horizon, splits, Path(work_dir), progress)
        if model.n_epochs == 0:  # untrained (s4-base, closed form): its val loss over every val window
            epochs, val_loss = 0, scores(*test_windows(model, splits.val, cfg["lookback"], horizon))["mse"]
        else:
            epochs = early_stopping.stopped_epoch + 1 if early_stopping.stopped_epoch else cfg["trainer"]["max_epochs"]
            val_loss = float(early_stopping.best_score)
        forecast, truth = test_windows(model, splits.test, cfg["lookback"], horizon, verbose=progress)
    return {
        "dataset": dataset,
        "features": features,
        "horizon": horizon,
        "model": model_name,
        "lookback": cfg["lookback"],
        **scores(forecast, truth),
        "test_windows": len(forecast),
        "val_loss": val_loss,
        "epochs": epochs,
        "wall_time_s": round(time.perf_counter() - start, 1),
        "train_time_s": round(train_time, 1),
        "params": n_parameters(model),
        "options": configs.options(cfg, model_name),
        "status": "ok",
        "commit": git_commit(),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "config_hash": configs.config_hash(cfg, model_name),
        "seed": cfg["seed"],
    }


def keys_done(results: Path, key: list[str]) -> set[tuple]:
    """The ``key`` tuples of every row in ``results`` (none when it does not exist): what a resumed run skips.
    Integer columns (horizon, seed) come back as ints."""
    if not results.exists():
        return set()
    return set(map(tuple, pd.read_csv(results)[key].itertuples(index=False, name=None)))


def append(results: Path, row: dict) -> None:
    """Append ``row`` under the file's existing header (missing fields empty), so that a short row such as
    "not run: data absent" cannot shift the columns of the rows after it."""
    results.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame([row])
    if results.exists():
        header = list(pd.read_csv(results, nrows=0).columns)
        if unknown := set(frame.columns) - set(header):
            raise ValueError(f"{results} has no column(s) {sorted(unknown)}; write to a new results file")
        frame = frame.reindex(columns=header)
    frame.to_csv(results, mode="a", header=not results.exists(), index=False)


def setting_arguments(p: argparse.ArgumentParser, models_help: str) -> None:
    """The options that pick settings and models (``run`` and ``sweep``)."""
    p.add_argument("--dataset", choices=ALL_DATASETS)
    p.add_argument("--features", choices=["S", "M"])
    p.add_argument("--horizon", type=int)
    p.add_argument("--model", dest="models", nargs="+", help=models_help)
    p.add_argument("--all", action="store_true", help="every dataset, feature set and horizon")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    setting_arguments(p, "models to run (default: the config's list)")
    p.add_argument("--force", action="store_true", help="re-run settings already in the results file")
    p.add_argument(
        "--set",
        nargs="+",
        metavar="KEY=VALUE",
        help="config overrides for a candidate on val, e.g. +s4.linear_skip=true (dotted keys; + adds a key); "
        "the row's config hash says which config it ran",
    )
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--data-dir", default=None, help="default: $S4FORECAST_DATA_DIR")
    p.add_argument("--config-dir", type=Path, default=configs.CONFIG_DIR)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if not args.all and not args.dataset:
        p.error("give --dataset (with optional --features/--horizon) or --all")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    datasets = ALL_DATASETS if args.all else [args.dataset]
    for dataset in datasets:
        try:
            read_frame(dataset, args.data_dir)  # verified local copy, else a download attempt
        except FileNotFoundError as e:
            log.warning("%s: not run: data absent (%s)", dataset, e)
            append(
                args.results,
                {"dataset": dataset, "status": "not run: data absent", "date": dt.datetime.now().isoformat(timespec="seconds")},
            )
            continue
        for features in [args.features] if args.features else ["S", "M"]:
            horizons = configs.load(dataset, features, args.config_dir)["horizons"]
            for horizon in [args.horizon] if args.horizon else horizons:
                cfg = configs.override(configs.load(dataset, features, args.config_dir, horizon), args.set or [])
                for model_name in args.models or cfg["models"]:
                    if need := missing_dependency(model_name):
                        log.warning("%s: not run here: %s", model_name, need)
                        continue
                    key = {
                        "dataset": dataset,
                        "features": features,
                        "horizon": horizon,
                        "model": model_name,
                        "config_hash": configs.config_hash(cfg, model_name),
                    }
                    if not args.force and done(args.results, key):
                        log.info("skip %s (already in %s)", key, args.results)
                        continue
                    log.info("run %s", key)
                    row = run_setting(dataset, features, horizon, model_name, cfg, args.data_dir, not args.no_progress)
                    append(args.results, row)
                    log.info("done %s: mse %.4f mae %.4f (%.0f s)", key, row["mse"], row["mae"], row["wall_time_s"])


if __name__ == "__main__":
    main()
