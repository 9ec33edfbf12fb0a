"""Validation-loss curves of one Informer setting under config variants: the evidence for choosing
the benchmark's settings on the val split (the test split is never read here).

    python -m benchmarks.informer.val_curves --dataset ETTh1 --features S --horizon 168 \\
        --variant base --variant low_lr s4.lr=5e-4 s4.ssm_lr=5e-4 [--model s4] [--epochs 6 --batches 100]

Each ``--variant NAME [key=value ...]`` overrides the merged config (dotted keys, YAML values;
``+key=value`` adds a key the config does not have yet, e.g. ``+s4.subtract_last=true``). Early
stopping is off, so every epoch's val loss is recorded. Appends one row per (variant, epoch) to
``results/val_curves.csv``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
import torch
from pytorch_lightning.callbacks import Callback

from benchmarks.informer import config as configs
from benchmarks.informer.models import build
from benchmarks.informer.run import ALL_DATASETS, append
from s4forecast.data.informer import load_informer

CURVES = Path(__file__).resolve().parent / "results" / "val_curves.csv"


class ValLossCurve(Callback):
    """Collects the val loss at the end of every validation epoch (sanity check excluded)."""

    def __init__(self):
        self.losses: list[float] = []

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.losses.append(float(trainer.callback_metrics["val_loss"]))


def curve(dataset: str, features: str, horizon: int, model_name: str, cfg: dict, data_dir=None) -> list[float]:
    splits = load_informer(dataset, features, cfg["lookback"], data_dir)
    with tempfile.TemporaryDirectory() as work_dir:
        model = build(model_name, cfg, horizon, Path(work_dir), progress=False)
        recorder = ValLossCurve()
        model.trainer_params["callbacks"].append(recorder)
        model.fit(splits.train, val_series=splits.val)
    return recorder.losses


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=ALL_DATASETS, required=True)
    p.add_argument("--features", choices=["S", "M"], required=True)
    p.add_argument("--horizon", type=int, required=True)
    p.add_argument("--model", default="s4")
    p.add_argument("--variant", nargs="+", action="append", required=True, metavar="NAME [KEY=VALUE ...]")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batches", type=int, default=100, help="training batches per epoch")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", type=Path, default=CURVES)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    base = configs.load(args.dataset, args.features, horizon=args.horizon)
    base["trainer"] |= {"max_epochs": args.epochs, "limit_train_batches": args.batches, "patience": args.epochs}
    for name, *assignments in args.variant:
        cfg = configs.override(base, assignments)
        losses = curve(args.dataset, args.features, args.horizon, args.model, cfg, args.data_dir)
        stamp = dt.datetime.now().isoformat(timespec="seconds")
        for epoch, loss in enumerate(losses, 1):
            append(
                args.out,
                {
                    "dataset": args.dataset,
                    "features": args.features,
                    "horizon": args.horizon,
                    "model": args.model,
                    "variant": name,
                    "overrides": " ".join(assignments),
                    "batches_per_epoch": args.batches,
                    "epoch": epoch,
                    "val_loss": loss,
                    "date": stamp,
                },
            )
        print(pd.Series(losses, index=range(1, len(losses) + 1), name=f"{name} val loss").to_string())


if __name__ == "__main__":
    main()
