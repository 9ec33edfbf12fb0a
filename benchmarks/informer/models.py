"""Build the benchmark's Darts models (S4 and the baselines) from a merged config."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from darts.models import DLinearModel, NLinearModel, TiDEModel
from pytorch_lightning.callbacks import EarlyStopping

# Darts drives Lightning through the `pytorch_lightning` namespace: callbacks must come from there.
from s4forecast import S4Model

TIME_FEATURES = {"datetime_attribute": {"future": ["hour", "dayofweek", "day", "month"]}, "transformer": None}


def trainer_kwargs(cfg: dict, progress: bool) -> dict:
    t = cfg["trainer"]
    return {
        "accelerator": "cpu",
        "callbacks": [EarlyStopping(monitor="val_loss", patience=t["patience"], mode="min")],
        "limit_train_batches": t["limit_train_batches"],
        "enable_progress_bar": progress,
        "enable_model_summary": False,
        "logger": False,
    }


def build(name: str, cfg: dict, horizon: int, work_dir: Path, progress: bool = True):
    """A fresh model for one setting; checkpoints go to ``work_dir`` so the best val epoch is restored."""
    m = dict(cfg[name])
    common = dict(
        input_chunk_length=cfg["lookback"],
        output_chunk_length=horizon,
        n_epochs=cfg["trainer"]["max_epochs"],
        batch_size=m.pop("batch_size", cfg["trainer"]["batch_size"]),
        random_state=cfg["seed"],
        pl_trainer_kwargs=trainer_kwargs(cfg, progress),
        save_checkpoints=True,
        force_reset=True,
        model_name=f"{name}",
        work_dir=str(work_dir),
    )
    optimizer = {"lr": m.pop("lr"), "weight_decay": m.pop("weight_decay", 0.0)}
    if name == "s4":
        # configs without patch_len ran per-step S4 (rows before S4Model's patched default): keep it so
        m.setdefault("patch_len", 1)
        if m.pop("time_features"):
            common["add_encoders"] = {**TIME_FEATURES, "transformer": _scaler()}
        return S4Model(**common, **m, optimizer_cls=torch.optim.AdamW, optimizer_kwargs=optimizer)
    if name == "informer":  # neuralforecast's Informer; its architecture arguments pass through as they are
        from darts.models import NeuralForecastModel

        return NeuralForecastModel(**common, model="Informer", model_kwargs=m, optimizer_kwargs=optimizer)
    cls = {"nlinear": NLinearModel, "dlinear": DLinearModel, "tide": TiDEModel}[name]
    return cls(**common, **m, optimizer_kwargs=optimizer)


def missing_dependency(name: str) -> str | None:
    """What to install before ``name`` can run here, or None when it can."""
    if name == "informer" and importlib.util.find_spec("neuralforecast") is None:
        return "pip install 's4forecast[informer]' (neuralforecast)"
    return None


def _scaler():
    from darts.dataprocessing.transformers import Scaler

    return Scaler()


def n_parameters(model) -> int:
    return sum(p.numel() for p in model.model.parameters())
