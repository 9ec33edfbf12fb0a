"""Screen S4Model's forecasting levers on val (configs/benchmarks/informer_screen.yaml).

    python -m benchmarks.informer.screen [--studies ETTh1-S-24-s4 ...] [--levers lookback ridge]
        [--seeds 0] [--long] [--summary]

Each study's best trial is re-trained from its recorded search (the study's ``searched`` space and
trainer) with one lever merged into its S4 section, at the study's horizon (``--long``: the long
horizons too), and scored by its best val loss; rows go to benchmarks/informer/results/screen.csv, one
per (study, horizon, lever, seed), and a re-run skips those it has. ``--summary`` prints and writes
screen.md: each lever's val loss over the seeds both it and ``best`` ran, as a ratio to ``best``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import tempfile
from pathlib import Path

import optuna
import pandas as pd
import torch

from benchmarks.common import git_commit
from benchmarks.informer import config as configs
from benchmarks.informer import sweep
from benchmarks.informer.models import n_parameters
from benchmarks.informer.run import append, fit, keys_done
from s4forecast.config_files import read_with_base, read_yaml
from s4forecast.data.informer import load_informer

SCREEN_CONFIG = configs.CONFIG_DIR.parent / "benchmarks" / "informer_screen.yaml"
RESULTS = Path(__file__).resolve().parent / "results" / "screen.csv"
KEY = ["study", "horizon", "lever", "seed"]
log = logging.getLogger("benchmarks.informer.screen")


def setting_of(study: str) -> tuple[str, str, int]:
    """``ETTh1-S-24-s4`` -> ("ETTh1", "S", 24)."""
    dataset, features, horizon, _ = study.split("-")
    return dataset, features, int(horizon)


def best_config(study_name: str, sweep_config: dict) -> dict:
    """The benchmark config of the study's best trial, as its study searched it (seed unset)."""
    setting = setting_of(study_name)
    searched = configs.for_features(sweep_config, setting[1])
    study = optuna.load_study(study_name=study_name, storage=sweep.storage_url(*setting[:2]))
    searched = sweep.as_searched(searched, study, "s4")
    params = sweep.sample(optuna.trial.FixedTrial(study.best_trial.params), searched, "s4")
    return sweep.trial_config(sweep.trial_base(setting), searched, "s4", params)


def plan(screen: dict, studies, levers, seeds, long: bool):
    """(study, horizon, lever, seed) in run order: seed by seed, the studies' own horizons first."""
    horizons = {s: [setting_of(s)[2]] for s in studies}
    if long:
        for s in studies:
            extra = screen["long_horizons"].get(setting_of(s)[0], screen["long_horizons"]["default"])
            horizons[s] += [h for h in extra if h not in horizons[s]]
    for round_ in range(max(len(h) for h in horizons.values())):
        for seed in seeds:
            for s in studies:
                if round_ < len(horizons[s]):
                    for lever in levers:
                        yield s, horizons[s][round_], lever, seed


def done(results: Path) -> set[tuple]:
    return keys_done(results, KEY)


def run_one(study: str, horizon: int, lever: str, seed: int, screen: dict, sweep_config: dict, data_dir, progress) -> dict:
    dataset, features, _ = setting_of(study)
    cfg = configs.merge(best_config(study, sweep_config), {"s4": screen["levers"][lever], "seed": seed})
    splits = load_informer(dataset, features, cfg["lookback"], data_dir)
    with tempfile.TemporaryDirectory() as work_dir:
        model, early_stopping, seconds = fit("s4", cfg, horizon, splits, Path(work_dir), progress)
    epochs = early_stopping.stopped_epoch + 1 if early_stopping.stopped_epoch else cfg["trainer"]["max_epochs"]
    return {
        "study": study,
        "horizon": horizon,
        "lever": lever,
        "seed": seed,
        "val_loss": float(early_stopping.best_score),
        "epochs": epochs,
        "train_time_s": round(seconds, 1),
        "params": n_parameters(model),
        "lookback": cfg["lookback"],
        "config_hash": configs.config_hash(cfg, "s4"),
        "commit": git_commit(),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
    }


def summary(results: Path, reference: str = "best") -> pd.DataFrame:
    """Per (study, horizon, lever): seeds, mean val loss, and the ratio to ``reference``'s mean over the
    same seeds."""
    df = pd.read_csv(results)
    rows = []
    for (study, horizon), group in df.groupby(["study", "horizon"], sort=False):
        ref = group[group.lever == reference].set_index("seed").val_loss
        for lever, g in group.groupby("lever", sort=False):
            g = g.set_index("seed").val_loss
            common = g.index.intersection(ref.index)
            rows.append(
                {
                    "study": study,
                    "horizon": horizon,
                    "lever": lever,
                    "seeds": len(g),
                    "val_loss": round(g.mean(), 4),
                    f"vs_{reference}": round(g[common].mean() / ref[common].mean(), 4) if len(common) else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=SCREEN_CONFIG)
    p.add_argument("--studies", nargs="+", default=None)
    p.add_argument("--levers", nargs="+", default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--long", action="store_true", help="the long horizons too, after the studies' own")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--data-dir", default=None, help="default: $S4FORECAST_DATA_DIR")
    p.add_argument("--summary", action="store_true", help="print and write the summary of the results file, run nothing")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    screen = read_yaml(args.config)
    if args.summary:
        table = summary(args.results)
        print(table.to_string(index=False))
        args.results.with_suffix(".md").write_text(table.to_markdown(index=False) + "\n")
        return
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sweep_config = read_with_base(sweep.SWEEP_CONFIG)
    levers = args.levers or list(screen["levers"])
    if unknown := set(levers) - set(screen["levers"]):
        p.error(f"unknown lever(s) {sorted(unknown)}; the config has {', '.join(screen['levers'])}")
    finished = done(args.results)
    for key in plan(screen, args.studies or screen["studies"], levers, args.seeds or screen["seeds"], args.long):
        if key in finished:
            continue
        log.info("run %s", key)
        row = run_one(*key, screen, sweep_config, args.data_dir, not args.no_progress)
        append(args.results, row)
        log.info("done %s: val %.4f (%d epochs, %.0f s)", key, row["val_loss"], row["epochs"], row["train_time_s"])


if __name__ == "__main__":
    main()
