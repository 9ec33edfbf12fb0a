"""The classification job, as ``forecasting/job.py`` is the forecasting one: ``s4forecast classify --config
configs/classify/smnist.yaml``.

Lightning progress bar, checkpoints (best val_acc, and ``last.ckpt`` at every epoch end and every
``checkpoint_minutes`` of training, written atomically) under ``<runs dir>/<run name>/``, resume from
``last.ckpt`` when the same command is run again, a final test accuracy line, and ``result.json`` beside
the checkpoints (test accuracy, parameters, epochs, the val accuracy per epoch over resumed runs, wall
time of this invocation).

The runs dir is ``--output-dir``, else the config's ``output_dir``, else ``$S4FORECAST_RUNS_DIR``, else
``~/.cache/s4forecast/runs``: outside the checkout, so a run outlives a fresh clone of the repository.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path

import torch

from s4forecast.classification.allocator import allocator_hint, limit_heap_growth
from s4forecast.config_files import check_keys, read_with_base

REQUIRED = ("name", "task", "batch_size", "model")
OPTIONAL = ("seed", "trainer", "output_dir", "sweep", "checkpoint_minutes")  # sweep: where a sweep-report config came from
CHECKPOINT_MINUTES = 5.0  # default wall-clock interval of last.ckpt: a killed run loses at most this much training


def runs_dir() -> Path:
    """Where runs live by default: ``$S4FORECAST_RUNS_DIR``, else ``~/.cache/s4forecast/runs``.

    Returns
    -------
    pathlib.Path
    """
    return Path(os.environ.get("S4FORECAST_RUNS_DIR") or Path.home() / ".cache" / "s4forecast" / "runs")


def load_config(path: str | Path) -> dict:
    """A classification config, deep-merged over the file named by its ``base:`` key (relative to it), if
    any; the merged keys are checked.

    Parameters
    ----------
    path
        The config file.

    Returns
    -------
    dict
    """
    return check_keys(read_with_base(path), path, REQUIRED, OPTIONAL, sections=("task", "model", "trainer"))


def run_dir_of(cfg: dict, output_dir=None) -> Path:
    """``<output_dir, else the config's output_dir, else runs_dir()>/<name>``.

    Parameters
    ----------
    cfg
        The config.
    output_dir
        An explicit parent, or None.

    Returns
    -------
    pathlib.Path
    """
    return Path(output_dir or cfg.get("output_dir") or runs_dir()) / cfg["name"]


def export(config: str | Path, path: str | Path, output_dir=None, dtype: str = "float32") -> str:
    """Write the latest state of ``config``'s run to ``path`` (run_state.export_run); a one-line summary.

    Parameters
    ----------
    config
        The run's config file.
    path
        The export file.
    output_dir
        The runs' parent, as given to :func:`classify`.
    dtype
        ``"float32"`` (exact) or ``"bfloat16"`` (weights and optimiser moments rounded: under half the size).

    Returns
    -------
    str
    """
    from s4forecast.classification.run_state import export_run

    done = export_run(run_dir_of(load_config(config), output_dir), Path(path), dtype)
    return f"exported step {done['global_step']} ({done['position']}) to {done['path']} ({done['bytes'] / 1e6:.2f} MB, {dtype})"


def classify(
    config: str | Path,
    data_dir=None,
    output_dir=None,
    threads: int | None = None,
    progress: bool = True,
    resume_from: str | Path | None = None,
) -> dict:
    """Train (or continue) the run of ``config`` and test its best val checkpoint.

    The run lives in its runs directory (checkpoints every few minutes and at each epoch's end, with the
    loader's position and the RNG states): the same call continues a stopped run where it stood.

    Parameters
    ----------
    config
        A classify config (``configs/classify/*.yaml``; ``base:`` configs merged under it).
    data_dir
        Where the datasets are; None: ``$S4FORECAST_DATA_DIR``.
    output_dir
        The parent of the run's directory; None: the config's ``output_dir``, else :func:`runs_dir`.
    threads
        torch's thread count for this process; None leaves it.
    progress
        Show Lightning's progress bar (a config's ``trainer`` section wins).
    resume_from
        An :func:`~s4forecast.classification.run_state.export_run` file to continue from, unless the runs
        directory holds a run further along.

    Returns
    -------
    dict
        The test metrics (``test_acc``, ``test_loss``), params, epochs, the best checkpoint, val accuracy per
        epoch and wall time; also written to the run's ``result.json``.
    """
    start = time.perf_counter()
    cfg = load_config(config)
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    from s4forecast.classification.data import ClassificationData
    from s4forecast.classification.model import S4Classifier
    from s4forecast.classification.run_state import RunState
    from s4forecast.classification.run_state import resume_from as put_back

    if threads:
        torch.set_num_threads(threads)
    limit_heap_growth()
    if hint := allocator_hint():
        print(hint)
    pl.seed_everything(cfg.get("seed", 0), workers=True)
    data = ClassificationData(cfg["task"], cfg["batch_size"], data_dir)
    model = S4Classifier(**data.dims, **cfg["model"])
    run_dir = run_dir_of(cfg, output_dir)
    checkpoints = ModelCheckpoint(dirpath=run_dir, monitor="val_acc", mode="max", filename="best-{epoch}-{val_acc:.4f}")
    minutes = datetime.timedelta(minutes=cfg.get("checkpoint_minutes", CHECKPOINT_MINUTES))
    latest = [  # one last.ckpt, every few minutes of training and at every epoch end (each written atomically)
        ModelCheckpoint(dirpath=run_dir, save_last=True, save_top_k=0, enable_version_counter=False, **when)
        for when in ({"train_time_interval": minutes}, {})
    ]
    state = RunState()
    if resume_from is not None and put_back(Path(resume_from), run_dir):
        print(f"{cfg['name']}: continuing from {resume_from}")
    trainer = pl.Trainer(
        default_root_dir=run_dir,
        callbacks=[checkpoints, *latest, state],
        logger=pl.loggers.CSVLogger(run_dir),
        **{"enable_progress_bar": progress, "use_distributed_sampler": False, **cfg.get("trainer", {})},
    )
    last = run_dir / "last.ckpt"
    trainer.fit(model, datamodule=data, ckpt_path=str(last) if last.exists() else None)
    curve = state.curve()  # before test, which restores the callbacks' states of the best checkpoint
    best = checkpoints.best_model_path or None
    result = trainer.test(model, datamodule=data, ckpt_path=best, verbose=False)[0]
    summary = {
        "config": str(config),
        **result,
        "params": sum(p.numel() for p in model.parameters()),
        "epochs": trainer.current_epoch,
        "checkpoint": best,
        "val_acc_per_epoch": curve or val_curve(run_dir),
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    if trainer.is_global_zero:  # under DDP every process holds the same synced result: one writes it
        (run_dir / "result.json").write_text(json.dumps(summary, indent=1) + "\n")
        print(
            f"{cfg['name']}: test accuracy {result['test_acc']:.4f} ({summary['params']} parameters, "
            f"{summary['epochs']} epochs, checkpoint {best}; {run_dir / 'result.json'})"
        )
    return summary


def val_curve(run_dir: Path) -> list[float]:
    """Validation accuracy per epoch over every (resumed) run logged under ``run_dir``: an epoch logged
    twice (re-run after a resume) keeps its last value.

    Parameters
    ----------
    run_dir
        The run's directory.

    Returns
    -------
    list of float
    """
    import pandas as pd

    logs = sorted((run_dir / "lightning_logs").glob("version_*/metrics.csv"), key=lambda f: int(f.parent.name[8:]))
    frames = [pd.read_csv(f) for f in logs]
    rows = [f.dropna(subset=["val_acc"])[["epoch", "val_acc"]] for f in frames if "val_acc" in f.columns]
    if not rows:
        return []
    curve = pd.concat(rows).drop_duplicates("epoch", keep="last").sort_values("epoch")
    return [round(float(v), 4) for v in curve.val_acc]
