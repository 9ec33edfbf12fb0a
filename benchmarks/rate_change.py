"""Zero-shot sampling-rate change (S4 Sec. 4.3 for forecasting): a model trained on hourly ETTh1
forecasts 15-minute ETTm1 (same transformer, same quantities) by scaling Δ, without retraining.

    python -m benchmarks.rate_change [--config configs/benchmarks/rate_change.yaml]

ETTm1 test MSE/MAE (Informer split, scaled with ETTm1's train statistics) of (a) the hourly model
used naively at 15 min, (b) the same model with Δ x rate, (c) a model trained on ETTm1.
Writes benchmarks/results/rate_change.csv and rate_change.md.
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from benchmarks.common import ROOT, load_config, write_results
from s4forecast import S4Model
from s4forecast.data.informer import load_informer
from s4forecast.forecasting.evaluation import scores, test_windows


def fit(cfg: dict, splits) -> S4Model:
    trainer = {"enable_model_summary": False, "logger": False, "enable_checkpointing": False, **cfg["trainer"]}
    model = S4Model(cfg["lookback"], cfg["horizon"], pl_trainer_kwargs=trainer, **cfg["model"])
    return model.fit(splits.train, val_series=splits.val)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs/benchmarks/rate_change.yaml"))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    hourly = load_informer("ETTh1", cfg["features"], cfg["lookback"], args.data_dir)
    minute = load_informer("ETTm1", cfg["features"], cfg["lookback"], args.data_dir)
    hourly_model, minute_model = fit(cfg, hourly), fit(cfg, minute)
    candidates = {
        "(a) ETTh1 model, naive": hourly_model,
        f"(b) ETTh1 model, dt x {cfg['rate']}": hourly_model.with_rate(cfg["rate"]),
        "(c) trained on ETTm1": minute_model,
    }
    rows = []
    for name, model in candidates.items():
        forecast, truth = test_windows(model, minute.test, cfg["lookback"], cfg["horizon"])
        rows.append({"model": name, **scores(forecast, truth), "test_windows": len(forecast)})
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    write_results(
        "rate_change",
        df,
        f"Zero-shot rate change: ETTh1 (hourly) model on ETTm1 (15 min), features "
        f"{cfg['features']}, lookback {cfg['lookback']}, horizon {cfg['horizon']} steps",
        f"python -m benchmarks.rate_change --config {args.config}",
        floatfmt=".4f",
    )


if __name__ == "__main__":
    main()
