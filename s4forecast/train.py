"""Classification training: ``s4forecast classify --config configs/classify/smnist.yaml`` (also
``python -m s4forecast.train classify ...``).

Lightning progress bar, checkpoints (best val_acc and last) under ``<output_dir>/<run name>/``,
resume from the last checkpoint when re-run, and a final test accuracy line.
"""

from __future__ import annotations

from pathlib import Path

import torch

from s4forecast.config_files import check_keys, merge_sections, read_yaml

REQUIRED = ("name", "task", "batch_size", "model")
OPTIONAL = ("seed", "trainer", "output_dir", "sweep")  # sweep: where a sweep-report config came from


def _merged(path: Path) -> dict:
    cfg = read_yaml(path)
    base = cfg.pop("base", None)
    if base is None:
        return cfg
    return merge_sections(_merged(path.parent / base), cfg)


def load_config(path: str | Path) -> dict:
    """A classification config, deep-merged over the file named by its ``base:`` key (relative to it), if
    any; the merged keys are checked."""
    return check_keys(_merged(Path(path)), path, REQUIRED, OPTIONAL, sections=("task", "model", "trainer"))


def classify(config: str | Path, data_dir=None, output_dir=None, threads: int | None = None, progress: bool = True) -> dict:
    cfg = load_config(config)
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    from s4forecast.classification.data import ClassificationData
    from s4forecast.classification.model import S4Classifier

    if threads:
        torch.set_num_threads(threads)
    pl.seed_everything(cfg.get("seed", 0), workers=True)
    data = ClassificationData(cfg["task"], cfg["batch_size"], data_dir)
    model = S4Classifier(**data.dims, **cfg["model"])
    run_dir = Path(output_dir or cfg.get("output_dir", "runs")) / cfg["name"]
    checkpoints = ModelCheckpoint(
        dirpath=run_dir, monitor="val_acc", mode="max", save_last=True, filename="best-{epoch}-{val_acc:.4f}"
    )
    trainer = pl.Trainer(
        default_root_dir=run_dir,
        callbacks=[checkpoints],
        logger=pl.loggers.CSVLogger(run_dir),
        **{"enable_progress_bar": progress, **cfg.get("trainer", {})},
    )
    last = run_dir / "last.ckpt"
    trainer.fit(model, datamodule=data, ckpt_path=str(last) if last.exists() else None)
    best = checkpoints.best_model_path or None
    result = trainer.test(model, datamodule=data, ckpt_path=best, verbose=False)[0]
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"{cfg['name']}: test accuracy {result['test_acc']:.4f} ({n_params} parameters, "
        f"{trainer.current_epoch} epochs, checkpoint {best})"
    )
    return {**result, "params": n_params, "epochs": trainer.current_epoch}


def main(argv=None) -> None:
    """``python -m s4forecast.train classify ...``: the same as ``s4forecast classify ...``."""
    from s4forecast.cli import main as cli

    cli(argv)


if __name__ == "__main__":
    main()
