"""Build the benchmark's Darts models (S4 and the baselines) from a merged config."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from darts.models import DLinearModel, NHiTSModel, NLinearModel, TiDEModel, TSMixerModel
from pytorch_lightning.callbacks import EarlyStopping

# Darts drives Lightning through the `pytorch_lightning` namespace: callbacks must come from there.
from s4forecast import S4Model

DARTS_MODELS = {"nlinear": NLinearModel, "dlinear": DLinearModel, "tide": TiDEModel, "tsmixer": TSMixerModel, "nhits": NHiTSModel}
# neuralforecast's models through Darts' NeuralForecastModel; their architecture arguments pass through as they are
NEURALFORECAST_MODELS = {"informer": "Informer", "patchtst": "PatchTST", "itransformer": "iTransformer"}
TIME_FEATURES = {"datetime_attribute": {"future": ["hour", "dayofweek", "day", "month"]}, "transformer": None}


def trainer_kwargs(cfg: dict, progress: bool, callbacks: tuple = ()) -> dict:
    """Lightning's settings for a run: early stopping on val (and ``callbacks``, e.g. Optuna pruning);
    ``limit_train_batches: null`` means full epochs, and val is whole unless ``limit_val_batches`` says."""
    t = cfg["trainer"]
    return {
        "accelerator": "cpu",
        "callbacks": [EarlyStopping(monitor="val_loss", patience=t["patience"], mode="min"), *callbacks],
        "limit_train_batches": t["limit_train_batches"] or 1.0,
        "limit_val_batches": t.get("limit_val_batches") or 1.0,
        "enable_progress_bar": progress,
        "enable_model_summary": False,
        "logger": False,
    }


def build(name: str, cfg: dict, horizon: int, work_dir: Path, progress: bool = True, callbacks: tuple = ()):
    """A fresh model for one setting; checkpoints go to ``work_dir`` so the best val epoch is restored."""
    m = dict(cfg[name])
    common = dict(
        input_chunk_length=cfg["lookback"],
        output_chunk_length=horizon,
        n_epochs=cfg["trainer"]["max_epochs"],
        batch_size=m.pop("batch_size", cfg["trainer"]["batch_size"]),
        random_state=cfg["seed"],
        pl_trainer_kwargs=trainer_kwargs(cfg, progress, callbacks),
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
    if name in NEURALFORECAST_MODELS:
        from darts.models import NeuralForecastModel

        return NeuralForecastModel(**common, model=NEURALFORECAST_MODELS[name], model_kwargs=m, optimizer_kwargs=optimizer)
    if name not in DARTS_MODELS:
        raise ValueError(f"unknown model {name!r}; valid: s4, {', '.join([*DARTS_MODELS, *NEURALFORECAST_MODELS])}")
    return DARTS_MODELS[name](**common, **m, optimizer_kwargs=optimizer)


def missing_dependency(name: str) -> str | None:
    """What to install before ``name`` can run here, or None when it can."""
    if name in NEURALFORECAST_MODELS and importlib.util.find_spec("neuralforecast") is None:
        return "pip install 's4forecast[informer]' (neuralforecast)"
    return None


def _scaler():
    from darts.dataprocessing.transformers import Scaler

    return Scaler()


def n_parameters(model) -> int:
    return sum(p.numel() for p in model.model.parameters())
