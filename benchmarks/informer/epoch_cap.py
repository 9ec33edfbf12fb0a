"""Does the multivariate sweep trainer's epoch cap cost a model anything on val? Each model's own config
for a setting (a study's setting-config trial) trained under both caps, side by side:

    python -m benchmarks.informer.epoch_cap --dataset ETTh1 --features M --horizon 168 --model s4 patchtst
        [--seeds 0 1]

``batches``: the sweep config's trainer (epochs of ``limit_train_batches`` batches, whatever a window holds);
``sequences``: the feature set's (``by_features``: epochs of ``train_sequences`` sequences, a channel-
independent model reading each channel of a window as one, models.with_epoch_cap). Both train to their own
early stop on val with best-val weights. One row per (model, cap, seed) goes to
benchmarks/informer/results/epoch_cap.csv with the best val loss, the epochs run, the batches an epoch held
and the training seconds; a re-run skips the rows already there. No test split is read.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import optuna
import pandas as pd
import torch

from benchmarks.informer import config as configs
from benchmarks.informer.models import with_epoch_cap
from benchmarks.informer.run import RESULTS, append, fit
from benchmarks.informer.sweep import SWEEP_CONFIG, sample, setting_params, trial_base, trial_config
from s4forecast.config_files import read_with_base
from s4forecast.data.informer import load_informer

EPOCH_CAP = RESULTS.parent / "epoch_cap.csv"
CAPS = ("batches", "sequences")
log = logging.getLogger("benchmarks.informer.epoch_cap")


def trainers(sweep: dict, features: str) -> dict[str, dict]:
    """The feature set's sweep config under the two trainers compared: the shared one's batches and the
    feature set's own (its sequences)."""
    own = configs.for_features(sweep, features)
    return {"batches": {**own, "trainer": sweep["trainer"]}, "sequences": own}


def measured(results: Path) -> set[tuple]:
    if not results.exists():
        return set()
    df = pd.read_csv(results, dtype={"seed": int})
    return set(zip(df.dataset, df.features, df.horizon, df.model, df.cap, df.seed, strict=True))


def compare(setting, models, sweep, seeds, results: Path, caps=CAPS, config_dir=configs.CONFIG_DIR, data_dir=None, progress=True):
    base = trial_base(setting, config_dir)
    done = measured(results)
    capped = trainers(sweep, setting[1])
    for model in models:
        params = setting_params(setting, capped["sequences"], model, config_dir)
        for cap in caps:
            cap_sweep = capped[cap]
            cfg = trial_config(base, cap_sweep, model, sample_fixed(params, cap_sweep, model))
            splits = load_informer(setting[0], setting[1], cfg["lookback"], data_dir)
            batches = with_epoch_cap(cfg, model, splits.train.n_components)["trainer"]["limit_train_batches"]
            for seed in seeds:
                if (*setting, model, cap, seed) in done:
                    log.info("skip %s %s seed %d (in %s)", model, cap, seed, results)
                    continue
                with tempfile.TemporaryDirectory() as work_dir:
                    seeded = configs.merge(cfg, {"seed": seed})
                    _, early_stopping, seconds = fit(model, seeded, setting[2], splits, Path(work_dir), progress)
                epochs = early_stopping.stopped_epoch + 1 if early_stopping.stopped_epoch else cfg["trainer"]["max_epochs"]
                row = dict(zip(("dataset", "features", "horizon"), setting, strict=True))
                row |= {"model": model, "cap": cap, "seed": seed, "val_loss": float(early_stopping.best_score)}
                row |= {"epochs": epochs, "batches_per_epoch": batches, "train_time_s": round(seconds, 1)}
                append(results, row)
                log.info("%s %s seed %d: val %.4f, %d epochs, %.0f s", model, cap, seed, row["val_loss"], epochs, seconds)


def sample_fixed(params: dict, sweep: dict, model: str) -> dict:
    """A setting-config trial's parameters (:func:`setting_params`) as the model's section gets them (S4's
    mode-conditional ones resolved); Optuna's FixedTrial refuses a config that leaves a parameter out."""
    return sample(optuna.trial.FixedTrial(params), sweep, model)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--features", choices=["S", "M"], default="M")
    p.add_argument("--horizon", type=int, required=True)
    p.add_argument("--model", dest="models", nargs="+", required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--caps", nargs="+", choices=CAPS, default=CAPS, help="the trainers to run (default: both)")
    p.add_argument("--sweep-config", type=Path, default=SWEEP_CONFIG)
    p.add_argument("--config-dir", type=Path, default=configs.CONFIG_DIR)
    p.add_argument("--results", type=Path, default=EPOCH_CAP)
    p.add_argument("--data-dir", default=None, help="default: $S4FORECAST_DATA_DIR")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    setting = (args.dataset, args.features, args.horizon)
    compare(
        setting,
        args.models,
        read_with_base(args.sweep_config),
        args.seeds,
        args.results,
        args.caps,
        args.config_dir,
        args.data_dir,
        not args.no_progress,
    )


if __name__ == "__main__":
    main()
