"""What a classification run needs beyond Lightning's checkpoint to continue as if never stopped, and its
compact export.

:class:`RunState` (a Lightning callback, so its state travels inside every checkpoint) keeps the RNG
states (torch, numpy, python: dropout draws from them) and the val accuracy per epoch, and sets the train
batch sampler's epoch from the trainer's at each epoch's start (Lightning sets it on samplers only), so
that the batches of an epoch depend on the epoch, not on how many passes this process has made. Where in
its epoch the train loader stood travels in the same checkpoint as the loader's own state
(:class:`~s4forecast.classification.batching.ResumableLoader`).

:func:`export_run` writes a run's latest checkpoint (weights, optimiser, scheduler, loop position,
callbacks, this state) gzip-compressed to one file small enough to commit, with the best val checkpoint's
weights (which the run's test reads): exact (float32), or with the weights and the optimiser's moments
rounded to bfloat16 (``dtype="bfloat16"``: under half the size, the run continuing from the rounded state,
~0.4% relative change a value); :func:`resume_from` puts such a file back as a run's ``last.ckpt`` and best
checkpoint (in float32) on any machine, unless the run there is further along, with the checkpoint
callbacks' paths moved into the run dir there (so the best score so far carries over too).
"""

from __future__ import annotations

import gzip
import io
import os
import random
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

EXPORT_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}  # export_run's dtype -> the tensors' dtype


class RunState(pl.Callback):
    def __init__(self):
        self.val_acc_per_epoch: dict[int, float] = {}

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        batch_sampler = getattr(trainer.train_dataloader, "batch_sampler", None)
        if callable(getattr(batch_sampler, "set_epoch", None)):
            batch_sampler.set_epoch(trainer.current_epoch)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:  # metrics logged by now
        if not trainer.sanity_checking and "val_acc" in trainer.callback_metrics:
            self.val_acc_per_epoch[trainer.current_epoch] = round(float(trainer.callback_metrics["val_acc"]), 4)

    def state_dict(self) -> dict:
        """Tensors and plain numbers only: Lightning loads checkpoints with ``weights_only=True``."""
        _, keys, pos, has_gauss, gauss = np.random.get_state()
        version, internal, gauss_next = random.getstate()
        return {
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos, "has_gauss": has_gauss, "gauss": gauss},
            "python_rng": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
            "val_acc_per_epoch": dict(self.val_acc_per_epoch),
        }

    def load_state_dict(self, state: dict) -> None:
        self.val_acc_per_epoch = dict(state["val_acc_per_epoch"])
        torch.set_rng_state(state["torch_rng"])
        n = state["numpy_rng"]
        np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
        p = state["python_rng"]
        random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))

    def curve(self) -> list[float]:
        """Validation accuracy per epoch, in epoch order.

        Returns
        -------
        list of float
        """
        return [self.val_acc_per_epoch[e] for e in sorted(self.val_acc_per_epoch)]


def export_run(run_dir: Path, path: Path, dtype: str = "float32") -> dict:
    """Write ``run_dir/last.ckpt`` gzip-compressed to ``path``; returns {path, bytes, global_step, position}:
    position, where the train loader stood ("epoch E, batch B"; the loader's state that Lightning keeps,
    :class:`~s4forecast.classification.batching.ResumableLoader`), or "epoch E" from a checkpoint without it.

    Parameters
    ----------
    run_dir
        The run's directory.
    path
        The export file.
    dtype
        ``"float32"``: the checkpoint as it is (a resumed run equals the uninterrupted one); ``"bfloat16"``:
        its float32 weights and optimiser state (Adam's moments; not its step counts) rounded to bfloat16.

    Returns
    -------
    dict
    """
    if dtype not in EXPORT_DTYPES:
        raise ValueError(f"export dtype must be one of {', '.join(EXPORT_DTYPES)}; got {dtype!r}")
    last = Path(run_dir) / "last.ckpt"
    if not last.exists():
        raise FileNotFoundError(f"no run to export: {last} does not exist (train first)")
    checkpoint = torch.load(last, map_location="cpu", weights_only=False)
    checkpoint["export_dtype"] = dtype
    _cast_training_state(checkpoint, torch.float32, EXPORT_DTYPES[dtype])
    if (best := _best_path(checkpoint)) is not None and best.exists():  # for the run's test: weights and callbacks
        kept = torch.load(best, map_location="cpu", weights_only=False)
        kept.pop("optimizer_states", None)
        _cast_training_state(kept, torch.float32, EXPORT_DTYPES[dtype])
        checkpoint["best_checkpoint"] = {"name": best.name, "checkpoint": kept}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wb", compresslevel=9) as dst:
        torch.save(checkpoint, dst)
    tmp.replace(path)
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "global_step": checkpoint["global_step"],
        "position": _position(checkpoint),
    }


def _checkpoint_states(checkpoint: dict) -> list[dict]:
    """The states of the checkpoint's ModelCheckpoint callbacks (those that keep a ``dirpath``)."""
    return [state for state in checkpoint.get("callbacks", {}).values() if isinstance(state, dict) and "dirpath" in state]


def _best_path(checkpoint: dict) -> Path | None:
    """The best checkpoint of the monitoring ModelCheckpoint (the val accuracy's), if it has one."""
    paths = [
        state["best_model_path"] for state in _checkpoint_states(checkpoint) if state.get("monitor") and state["best_model_path"]
    ]
    return Path(paths[0]) if paths else None


def _moved_into(checkpoint: dict, run_dir: Path) -> None:
    """In place: the ModelCheckpoint callbacks' directory and file paths re-rooted in ``run_dir``, as
    Lightning resolves it, so that Lightning reloads their best scores and the best checkpoint is found."""
    root = Path(os.path.realpath(run_dir))
    for state in _checkpoint_states(checkpoint):
        state["dirpath"] = str(root)
        for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
            if state.get(key):
                state[key] = str(root / Path(state[key]).name)
        state["best_k_models"] = {str(root / Path(k).name): v for k, v in state.get("best_k_models", {}).items()}


def _cast_training_state(checkpoint: dict, source: torch.dtype, target: torch.dtype) -> None:
    """In place: the weights and the optimisers' per-parameter state of dtype ``source`` (not a step count)
    as ``target``."""
    weights = checkpoint["state_dict"]
    for key, value in weights.items():
        if value.dtype == source:
            weights[key] = value.to(target)
    for optimizer in checkpoint.get("optimizer_states", []):
        for state in optimizer["state"].values():
            for key, value in state.items():
                if key != "step" and torch.is_tensor(value) and value.dtype == source:
                    state[key] = value.to(target)


def _position(checkpoint: dict) -> str:
    loaders = checkpoint["loops"]["fit_loop"]["state_dict"].get("combined_loader")
    if not loaders:
        return f"epoch {checkpoint['epoch']}"
    return f"epoch {loaders[0]['epoch']}, batch {loaders[0]['batches']}"


def read_export(path: Path) -> dict:
    """The checkpoint inside an export file.

    Parameters
    ----------
    path
        An export file.

    Returns
    -------
    dict
    """
    with gzip.open(path, "rb") as f:
        return torch.load(io.BytesIO(f.read()), map_location="cpu", weights_only=False)


def resume_from(path: Path, run_dir: Path) -> bool:
    """Make the export ``path`` the run's ``last.ckpt``, unless the run dir holds one at least as far along
    (by global step). Returns whether it did.

    Parameters
    ----------
    path
        An export file.
    run_dir
        The run's directory.

    Returns
    -------
    bool
    """
    exported = read_export(path)
    dtype, best = EXPORT_DTYPES[exported.pop("export_dtype", "float32")], exported.pop("best_checkpoint", None)
    last = Path(run_dir) / "last.ckpt"
    if last.exists() and torch.load(last, map_location="cpu", weights_only=False)["global_step"] >= exported["global_step"]:
        return False
    last.parent.mkdir(parents=True, exist_ok=True)
    if best is not None:
        _cast_training_state(best["checkpoint"], dtype, torch.float32)
        _saved(best["checkpoint"], Path(run_dir) / best["name"])
    _cast_training_state(exported, dtype, torch.float32)
    _moved_into(exported, Path(run_dir))
    _saved(exported, last)
    return True


def _saved(checkpoint: dict, path: Path) -> None:
    """``torch.save`` to ``path`` atomically (a temporary file beside it, then renamed)."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(path)
