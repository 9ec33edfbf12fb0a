"""Training scripts. ``python -m s4forecast.train classify --config configs/classify/smnist.yaml``

Lightning progress bar, checkpoints (best val_acc and last) under ``<output_dir>/<run name>/``,
resume from the last checkpoint when re-run, and a final test accuracy line.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import lightning.pytorch as pl
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint

from s4forecast.classification.data import ClassificationData
from s4forecast.classification.model import S4Classifier


def load_config(path: str | Path) -> dict:
    """A config, deep-merged over the file named by its ``base:`` key (relative to it), if any."""
    path = Path(path)
    cfg = yaml.safe_load(path.read_text())
    base = cfg.pop("base", None)
    if base is None:
        return cfg
    merged = load_config(path.parent / base)
    for key, value in cfg.items():
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    return merged


def classify(config: str | Path, data_dir=None, output_dir=None, threads: int | None = None) -> dict:
    cfg = load_config(config)
    if threads:
        torch.set_num_threads(threads)
    pl.seed_everything(cfg.get("seed", 0), workers=True)
    data = ClassificationData(cfg["task"], cfg["batch_size"], data_dir)
    model = S4Classifier(**data.dims, **cfg["model"])
    run_dir = Path(output_dir or cfg.get("output_dir", "runs")) / cfg["name"]
    checkpoints = ModelCheckpoint(dirpath=run_dir, monitor="val_acc", mode="max", save_last=True, filename="best-{epoch}-{val_acc:.4f}")
    trainer = pl.Trainer(default_root_dir=run_dir, callbacks=[checkpoints], logger=pl.loggers.CSVLogger(run_dir),
                         **cfg.get("trainer", {}))
    last = run_dir / "last.ckpt"
    trainer.fit(model, datamodule=data, ckpt_path=str(last) if last.exists() else None)
    best = checkpoints.best_model_path or None
    result = trainer.test(model, datamodule=data, ckpt_path=best, verbose=False)[0]
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{cfg['name']}: test accuracy {result['test_acc']:.4f} ({n_params} parameters, "
          f"{trainer.current_epoch} epochs, checkpoint {best})")
    return {**result, "params": n_params, "epochs": trainer.current_epoch}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m s4forecast.train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("classify", help="train and test an S4Classifier")
    p.add_argument("--config", required=True)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--output-dir", default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    classify(args.config, args.data_dir, args.output_dir, args.threads)


if __name__ == "__main__":
    main()
