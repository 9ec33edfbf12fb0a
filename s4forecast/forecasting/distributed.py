"""S4Model on several processes: train under Lightning's DDP, forecast in each process on its own.

``fit`` under ``pl_trainer_kwargs={"strategy": "ddp", "devices": 2}`` (CPU with gloo, or GPUs with nccl)
trains one model on every process, gradients averaged each step, so every process ends with the same
weights. Forecasting does not need the process group: Lightning's prediction under DDP splits the
series across processes and fails on a process left without one (a single series, two processes). So
a model whose trainer spans several processes predicts with a one-process trainer of the same
accelerator: each process computes the whole forecast, the same everywhere.
"""

from __future__ import annotations

import pytorch_lightning as pl

PARALLEL_KEYS = ("strategy", "devices", "num_nodes")


def spans_processes(trainer_params: dict) -> bool:
    """Whether a trainer of ``trainer_params`` trains on several processes (a DDP-like strategy, several
    devices or nodes).

    Parameters
    ----------
    trainer_params
        Lightning Trainer keywords.

    Returns
    -------
    bool
    """
    strategy = trainer_params.get("strategy", "auto")
    if isinstance(strategy, str):
        parallel = strategy.startswith(("ddp", "fsdp", "deepspeed"))
    else:
        parallel = isinstance(strategy, pl.strategies.ParallelStrategy)
    devices = trainer_params.get("devices", "auto")
    several = (isinstance(devices, int) and devices > 1) or (isinstance(devices, (list, tuple)) and len(devices) > 1)
    return parallel or several or trainer_params.get("num_nodes", 1) > 1


def one_process_trainer(trainer_params: dict, verbose: bool | None = None) -> pl.Trainer:
    """A prediction trainer on one device of the same accelerator, without the callbacks of training.

    Parameters
    ----------
    trainer_params
        The training trainer's keywords.
    verbose
        Show the progress bar (None: as trained).

    Returns
    -------
    pytorch_lightning.Trainer
    """
    params = {k: v for k, v in trainer_params.items() if k not in (*PARALLEL_KEYS, "callbacks")}
    if verbose is not None:
        params["enable_progress_bar"] = verbose
    return pl.Trainer(devices=1, **params)
