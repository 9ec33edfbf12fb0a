"""What a user gets without tuning: S4Model(336, H) against Darts' NLinearModel(336, H), both at their
defaults and trained the same way (configs/benchmarks/informer_defaults.yaml).

    python -m benchmarks.informer.defaults [--datasets ETTh1 ...] [--models s4 nlinear] [--summary]

Each (dataset, horizon, model, seed) is trained on the Informer train split with early stopping on val
(best-val weights restored) and tested on every test window; rows go to
benchmarks/informer/results/defaults.csv and a re-run skips those it has. ``--summary`` writes
defaults.md: test MSE per setting, each model's MSE over NLinear's, and where S4Model's defaults win.
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
from darts.models import NLinearModel
from pytorch_lightning.callbacks import EarlyStopping

from benchmarks.common import git_commit, load_config
from benchmarks.informer import config as configs
from benchmarks.informer.models import n_parameters, trainer_kwargs
from benchmarks.informer.run import append, keys_done
from s4forecast import S4Model
from s4forecast.data.informer import load_informer
from s4forecast.forecasting.evaluation import scores, test_windows

CONFIG = configs.CONFIG_DIR.parent / "benchmarks" / "informer_defaults.yaml"
RESULTS = Path(__file__).resolve().parent / "results" / "defaults.csv"
KEY = ["dataset", "horizon", "model", "seed"]
CLASSES = {"s4": S4Model, "nlinear": NLinearModel}  # a row's model name up to its first "-" names its class
log = logging.getLogger("benchmarks.informer.defaults")


def build(name: str, cfg: dict, horizon: int, seed: int, work_dir: Path, progress: bool):
    """Model ``name`` at its defaults (and its config section), with the shared trainer and best-val checkpoints."""
    t = cfg["trainer"]
    return CLASSES[name.split("-")[0]](
        cfg["lookback"],
        horizon,
        **cfg["models"][name],
        n_epochs=t["max_epochs"],
        batch_size=t["batch_size"],
        random_state=seed,
        pl_trainer_kwargs=trainer_kwargs(cfg, progress),
        save_checkpoints=True,
        force_reset=True,
        model_name=name,
        work_dir=str(work_dir),
    )


def run_one(dataset: str, horizon: int, name: str, seed: int, cfg: dict, data_dir, progress: bool) -> dict:
    splits = load_informer(dataset, cfg["features"], cfg["lookback"], data_dir)
    with tempfile.TemporaryDirectory() as work_dir:
        model = build(name, cfg, horizon, seed, Path(work_dir), progress)
        early_stopping = next(c for c in model.trainer_params["callbacks"] if isinstance(c, EarlyStopping))
        start = time.perf_counter()
        model.fit(splits.train, val_series=splits.val, load_best=True)
        train_time = time.perf_counter() - start
        epochs = early_stopping.stopped_epoch + 1 if early_stopping.stopped_epoch else cfg["trainer"]["max_epochs"]
        val_mse = scores(*test_windows(model, splits.val, cfg["lookback"], horizon))["mse"]
        forecast, truth = test_windows(model, splits.test, cfg["lookback"], horizon, verbose=progress)
    return {
        "dataset": dataset,
        "features": cfg["features"],
        "horizon": horizon,
        "model": name,
        "seed": seed,
        **scores(forecast, truth),
        "val_mse": val_mse,
        "epochs": epochs,
        "train_time_s": round(train_time, 1),
        "params": n_parameters(model),
        "commit": git_commit(),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
    }


def summary(results: Path, metric: str = "mse") -> pd.DataFrame:
    """Mean ``metric`` (test ``mse``, or ``val_mse``: what candidates are judged on) over seeds per setting
    and model, each model's ratio to NLinear's, S4's win flag."""
    df = pd.read_csv(results).groupby(["dataset", "horizon", "model"], as_index=False)[metric].mean()
    table = df.pivot(index=["dataset", "horizon"], columns="model", values=metric).reset_index()
    for model in [m for m in table.columns[2:] if m != "nlinear"]:
        table[f"{model}/nlinear"] = table[model] / table["nlinear"]
    if {"s4", "nlinear"} <= set(table.columns):
        both = table[["s4", "nlinear"]].notna().all(axis=1)
        table["s4 wins"] = (table["s4"] < table["nlinear"]).where(both)  # empty where a row is missing
    return table


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=CONFIG)
    p.add_argument("--datasets", nargs="+", help="default: the config's")
    p.add_argument("--models", nargs="+", help="default: the config's")
    p.add_argument("--seeds", nargs="+", type=int, help="default: the config's")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--data-dir", default=None, help="default: $S4FORECAST_DATA_DIR")
    p.add_argument("--summary", action="store_true", help="print and write defaults.md from the results file, run nothing")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.summary:
        table, val = summary(args.results), summary(args.results, "val_mse")
        judged = table["s4 wins"].dropna() if "s4 wins" in table else pd.Series(dtype=bool)
        rows = pd.read_csv(args.results)
        seeds = rows.groupby("model")["seed"].nunique()
        per_seed = rows[rows.model.isin(["s4", "nlinear"])].pivot_table(
            index=["dataset", "horizon", "seed"], columns="model", values="mse"
        )
        wins = (per_seed["s4"] < per_seed["nlinear"]).groupby(level="seed").agg(["sum", "size"])
        text = (
            "# What a user gets without tuning: S4Model(336, H) vs NLinearModel(336, H), test MSE\n\n"
            f"From `{args.results.name}` (`python -m benchmarks.informer.defaults`; config "
            f"`configs/benchmarks/informer_defaults.yaml`), the mean over each model's seeds ("
            + ", ".join(f"{m} {n}" for m, n in seeds.items())
            + f"). S4Model's defaults (`s4`) win at {int(judged.sum())} of the {len(judged)} settings where both "
            f"ran ({len(table)} in the config's grid) by the mean over seeds; seed by seed: "
            + ", ".join(f"seed {seed} {int(w['sum'])} of {int(w['size'])}" for seed, w in wins.iterrows())
            + ". A candidate's column is the mean over its own seeds.\n\n"
            f"{table.to_markdown(index=False, floatfmt='.4g')}\n\n"
            "## Val MSE (what the candidates for the defaults are judged on)\n\n"
            f"{val.drop(columns='s4 wins', errors='ignore').to_markdown(index=False, floatfmt='.4g')}\n"
        )
        args.results.with_suffix(".md").write_text(text)
        print(text)
        return
    cfg = load_config(args.config)
    torch.set_num_threads(1)
    have = keys_done(args.results, KEY)
    for seed in args.seeds or cfg["seeds"]:
        for horizon in cfg["horizons"]:
            for dataset in args.datasets or cfg["datasets"]:
                for name in args.models or list(cfg["models"]):
                    if (dataset, horizon, name, seed) in have:
                        continue
                    log.info("run %s-%s %s seed %d", dataset, horizon, name, seed)
                    row = run_one(dataset, horizon, name, seed, cfg, args.data_dir, not args.no_progress)
                    append(args.results, row)
                    log.info(
                        "done: mse %.4f (val %.4f, %d epochs, %.0f s)",
                        row["mse"],
                        row["val_mse"],
                        row["epochs"],
                        row["train_time_s"],
                    )


if __name__ == "__main__":
    main()
