"""Training and prediction cost of S4Model against Darts' peers, side by side in one process.

    python -m benchmarks.training_cost [--config configs/benchmarks/training_cost.yaml] [--only NAME ...]

Per group (a dataset, feature set, lookback and horizon) every model trains for ``epochs`` epochs of
``windows_per_epoch`` training windows (batches = windows / the model's batch size, so a channel-
independent S4 with batch 8 sees as many windows as a peer with batch 32); a Lightning callback times
every epoch and the median of those after the first (a warm-up) is reported; then ``predict_windows`` test windows are forecast with
``historical_forecasts``, ``predict_repeats`` times (the median is reported). S4 configs come from the main job's YAML, the Informer benchmark's merged
config for a setting (with ``set`` overrides as given to its ``run --set``), either with S4Model arguments
in ``model`` on top, or S4Model's defaults; a ``trainer`` key adds Lightning Trainer settings (e.g. precision). Peers run at Darts' defaults with batch 32.
Writes benchmarks/results/training_cost.csv and training_cost.md with ratios to TiDE and TSMixer.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import torch
from darts.models import NHiTSModel, NLinearModel, TiDEModel, TSMixerModel
from pytorch_lightning.callbacks import Callback

from benchmarks.common import ROOT, load_config, write_results
from benchmarks.informer import config as informer_config
from benchmarks.informer.models import build
from s4forecast import S4Model
from s4forecast.data.informer import load_informer
from s4forecast.forecasting.evaluation import test_windows
from s4forecast.trainers import quiet_trainer

PEERS = {"tide": TiDEModel, "nlinear": NLinearModel, "nhits": NHiTSModel, "tsmixer": TSMixerModel}
TRAINER = quiet_trainer(accelerator="cpu")


class EpochTimer(Callback):
    """Wall-clock seconds of each training epoch (training batches only, no validation)."""

    def __init__(self):
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        self.seconds.append(time.perf_counter() - self._start)


def s4_params(spec: dict, lookback: int, horizon: int) -> dict:
    """S4Model keyword arguments of one S4 row: from the main job's YAML or an Informer setting (either
    with S4Model arguments in ``model`` on top), or defaults."""
    if "forecast" in spec or "informer" in spec:
        return {**_configured_s4_params(spec), **spec.get("model", {})}
    return {"input_chunk_length": lookback, "output_chunk_length": horizon, **spec}


def _configured_s4_params(spec: dict) -> dict:
    if "forecast" in spec:
        cfg = load_config(ROOT / spec["forecast"])
        return {
            "input_chunk_length": cfg["lookback"],
            "output_chunk_length": cfg["horizon"],
            **cfg["model"],
            "pl_trainer_kwargs": cfg.get("trainer", {}),
        }
    dataset, features, h = spec["informer"]
    cfg = informer_config.override(informer_config.load(dataset, features, horizon=h), spec.get("set", []))
    with tempfile.TemporaryDirectory() as work_dir:
        params = dict(build("s4", cfg, h, Path(work_dir), progress=False).model_params)
    for key in ("save_checkpoints", "force_reset", "model_name", "work_dir"):
        params.pop(key, None)
    params["pl_trainer_kwargs"] = {}  # the benchmark's trainer: no early stopping (no val split here)
    return params


def timed(model, splits, group: dict, cfg: dict) -> dict:
    """Fit ``model`` for cfg['epochs'] epochs of cfg['windows_per_epoch'] windows; time the epochs after the first and
    the forecast of cfg['predict_windows'] test windows (median of cfg['predict_repeats'] forecasts)."""
    timer = EpochTimer()
    trainer = model.trainer_params
    trainer["callbacks"] = [c for c in trainer.get("callbacks", []) if not isinstance(c, EpochTimer)] + [timer]
    trainer["limit_train_batches"] = max(1, cfg["windows_per_epoch"] // model.batch_size)
    model.n_epochs = cfg["epochs"]
    model.fit(splits.train)
    n = group["lookback"] + group["horizon"] + cfg["predict_windows"] - 1
    predict_s = []
    for _ in range(cfg["predict_repeats"]):
        start = time.perf_counter()
        test_windows(model, splits.test[:n], group["lookback"], group["horizon"])
        predict_s.append(time.perf_counter() - start)
    return {
        "train_s_per_epoch": statistics.median(timer.seconds[1:]),
        "predict_s": statistics.median(predict_s),
        "params": sum(p.numel() for p in model.model.parameters()),
    }


def rows_of_group(group: dict, cfg: dict, only: list[str] | None) -> Iterator[dict]:
    trainer = {**TRAINER, "accelerator": cfg.get("accelerator", "cpu")}
    splits = load_informer(group["dataset"], group["features"], group["lookback"])
    setting = f"{group['dataset']}-{group['features']} {group['lookback']}->{group['horizon']}"
    specs = [
        (
            name,
            "darts defaults",
            lambda name=name: PEERS[name](
                group["lookback"], group["horizon"], batch_size=32, random_state=0, pl_trainer_kwargs=dict(TRAINER)
            ),
        )
        for name in group["peers"]
    ]
    for config_name, spec in group["s4"].items():

        def make(spec=spec):
            params = s4_params({k: v for k, v in spec.items() if k != "trainer"}, group["lookback"], group["horizon"])
            params["pl_trainer_kwargs"] = {**params.get("pl_trainer_kwargs", {}), **trainer, **spec.get("trainer", {})}
            params.setdefault("random_state", 0)
            return S4Model(**params)

        specs.append(("s4", config_name, make))
    for name, config_name, make in specs:
        if only and name not in only and config_name not in only:
            continue
        row = {"setting": setting, "model": name, "config": config_name, **timed(make(), splits, group, cfg)}
        print(row, flush=True)
        yield row


def with_ratios(df: pd.DataFrame) -> pd.DataFrame:
    """Each row's cost over TiDE's and TSMixer's in the same setting (x: this row's seconds / the peer's)."""
    for peer in ("tide", "tsmixer"):
        ref = df[df.model == peer].set_index("setting")
        df[f"train_vs_{peer}"] = df.train_s_per_epoch / df.setting.map(ref.train_s_per_epoch)
    df["predict_vs_tide"] = df.predict_s / df.setting.map(df[df.model == "tide"].set_index("setting").predict_s)
    return df


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs/benchmarks/training_cost.yaml"))
    parser.add_argument("--only", nargs="+", help="model or S4 config names to run (the ratios need tide and tsmixer)")
    parser.add_argument("--stem", default="training_cost", help="results file name under benchmarks/results/")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    if cfg["epochs"] < 2:
        parser.error(f"{args.config}: `epochs` must be >= 2 (the first is a warm-up, not timed); got {cfg['epochs']}")
    if cfg.get("predict_repeats", 0) < 1:
        parser.error(f"{args.config}: `predict_repeats` must be >= 1; got {cfg.get('predict_repeats')}")
    torch.set_num_threads(cfg["threads"])
    rows = []
    for row in (row for group in cfg["groups"] for row in rows_of_group(group, cfg, args.only)):
        rows.append(row)  # written after every row, so a run stopped at its time limit keeps what it measured
        save(rows, cfg, args)


def save(rows: list[dict], cfg: dict, args: argparse.Namespace) -> None:
    write_results(
        args.stem,
        with_ratios(pd.DataFrame(rows)),
        f"Training and prediction cost, one process, {cfg['threads']} torch thread(s)",
        f"python -m benchmarks.training_cost --config {args.config}" + (f" --only {' '.join(args.only)}" if args.only else ""),
        notes=f"An epoch is {cfg['windows_per_epoch']} training windows (the median of epochs 2-{cfg['epochs']}); "
        f"predict_s forecasts {cfg['predict_windows']} test windows with historical_forecasts (the median of "
        f"{cfg['predict_repeats']} forecasts). "
        "Ratios are this row's seconds over the peer's in the same setting.\n",
    )


if __name__ == "__main__":
    main()
