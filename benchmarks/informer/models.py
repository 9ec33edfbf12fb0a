"""Build the benchmark's Darts models (S4 and the baselines) from a merged config."""

from __future__ import annotations

import importlib.util
import inspect
import math
from pathlib import Path

import torch
from darts.models import DLinearModel, NHiTSModel, NLinearModel, TiDEModel, TSMixerModel
from darts.models.forecasting.pl_forecasting_module import PLForecastingModule
from darts.models.forecasting.torch_forecasting_model import PastCovariatesTorchModel
from pytorch_lightning.callbacks import EarlyStopping

# Darts drives Lightning through the `pytorch_lightning` namespace: callbacks must come from there.
from s4forecast import S4Model
from s4forecast.forecasting.defaults import DT_RANGE_PER_PATCH, DT_RANGE_PER_STEP
from s4forecast.trainers import quiet_trainer

BASE_OF = {"s4-base": "s4"}  # a model whose rows test the best trial of another model's study (no study of its own)
DARTS_MODELS = {"nlinear": NLinearModel, "dlinear": DLinearModel, "tide": TiDEModel, "tsmixer": TSMixerModel, "nhits": NHiTSModel}
# neuralforecast's models through Darts' NeuralForecastModel; their architecture arguments pass through as they are
NEURALFORECAST_MODELS = {"informer": "Informer", "patchtst": "PatchTST", "itransformer": "iTransformer"}
CALENDAR = ["hour", "dayofweek", "day", "month"]  # the time features (``time_features: true``)
# S4 options a benchmark config leaves unnamed: S4Model's defaults before 0.2 (the rows were measured so)
S4_UNNAMED = {"linear_skip": False, "subtract_last": False, "use_reversible_instance_norm": False, "ssm_lr": 1e-3}


def folds_channels(name: str, section: dict) -> bool:
    """Whether model ``name`` (configured by ``section``) reads each channel of a multivariate window as a
    sequence of its own: S4 with ``channel_independent``, and neuralforecast's univariate models (PatchTST,
    Informer), whose channels Darts folds into the batch. NLinear, DLinear, TiDE, TSMixer, NHiTS and
    iTransformer read a window's channels together."""
    if name == "s4":
        return bool(section.get("channel_independent", False))
    if name in NEURALFORECAST_MODELS:
        import neuralforecast.models

        return not getattr(neuralforecast.models, NEURALFORECAST_MODELS[name]).MULTIVARIATE
    return False


def with_epoch_cap(cfg: dict, name: str, n_channels: int) -> dict:
    """``cfg`` with its epochs capped at the trainer's ``train_sequences`` (when it sets them): the number of
    training batches whose sequences add up to that, a sequence being one channel of a window for a model that
    :func:`folds_channels` and the whole window for the others, so that an epoch costs every model about the
    same whatever the number of channels (benchmarks/informer/README.md, the budget)."""
    sequences = cfg["trainer"].get("train_sequences")
    if not sequences:
        return cfg
    section = cfg.get(name, {})
    per_window = n_channels if folds_channels(name, section) else 1
    batch_size = section.get("batch_size", cfg["trainer"]["batch_size"])
    return {**cfg, "trainer": {**cfg["trainer"], "limit_train_batches": math.ceil(sequences / (batch_size * per_window))}}


def trainer_kwargs(cfg: dict, progress: bool, callbacks: tuple = ()) -> dict:
    """Lightning's settings for a run: early stopping on val (and ``callbacks``, e.g. Optuna pruning);
    ``limit_train_batches: null`` means full epochs, and val is whole unless ``limit_val_batches`` says."""
    t = cfg["trainer"]
    return quiet_trainer(
        checkpoints=True,  # Darts' best-val weights
        accelerator="cpu",
        callbacks=[EarlyStopping(monitor="val_loss", patience=t["patience"], mode="min"), *callbacks],
        limit_train_batches=t["limit_train_batches"] or 1.0,
        limit_val_batches=t.get("limit_val_batches") or 1.0,
        enable_progress_bar=progress,
    )


def build(name: str, cfg: dict, horizon: int, work_dir: Path, progress: bool = True, callbacks: tuple = ()):
    """A fresh model for one setting; checkpoints go to ``work_dir`` so the best val epoch is restored."""
    if name == "s4-base":  # S4's linear base alone: the ridge map an S4Model with linear_init='ridge' starts from
        section = {**cfg[name], "linear_skip": True, "linear_init": "ridge"}
        return build("s4", {**cfg, "s4": section, "trainer": {**cfg["trainer"], "max_epochs": 0}}, horizon, work_dir, progress)
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
    calendar = m.pop("time_features", False)
    if name == "s4":
        # configs without patch_len ran per-step S4 (rows before S4Model's patched default): keep it so
        m.setdefault("patch_len", 1)
        # and without the normalisations and skip they did not name (S4Model's defaults before 0.2)
        for option, value in S4_UNNAMED.items():
            m.setdefault(option, value)
        if calendar:
            common["add_encoders"] = time_feature_encoders(S4Model)
        return S4Model(**common, **m, optimizer_cls=torch.optim.AdamW, optimizer_kwargs=optimizer)
    if name in NEURALFORECAST_MODELS:
        from darts.models import NeuralForecastModel

        if calendar:
            raise ValueError(
                f"{name}: time_features needs covariates, which neuralforecast's {NEURALFORECAST_MODELS[name]} does not take here"
            )
        return NeuralForecastModel(**common, model=NEURALFORECAST_MODELS[name], model_kwargs=m, optimizer_kwargs=optimizer)
    if name not in DARTS_MODELS:
        raise ValueError(f"unknown model {name!r}; valid: s4, {', '.join([*DARTS_MODELS, *NEURALFORECAST_MODELS])}")
    if calendar:
        if m.get("shared_weights"):
            raise ValueError(
                f"{name}: time_features needs shared_weights: false (Darts takes covariates only without shared weights)"
            )
        common["add_encoders"] = time_feature_encoders(DARTS_MODELS[name])
    return DARTS_MODELS[name](**common, **m, optimizer_kwargs=optimizer)


def time_feature_encoders(model_class) -> dict:
    """Darts encoders of the calendar (hour, day of week, day, month; scaled on the training series):
    future covariates for a model that takes them, past ones (the lookback's calendar) for a model that
    takes only those (NHiTS)."""
    side = "past" if issubclass(model_class, PastCovariatesTorchModel) else "future"
    return {"datetime_attribute": {side: CALENDAR}, "transformer": _scaler()}


def resolved(name: str, section: dict) -> dict:
    """Every keyword ``build`` gives model ``name`` for a config section: the section's values over the
    defaults ``build`` falls back on (per-step S4 with its Δ range, ``patch_len`` 1; the optimizer's lr,
    torch's 1e-3; no time features) and the model class's keyword defaults (a Darts model's with its module's, such as
    ``use_reversible_instance_norm``; a neuralforecast model's ``learning_rate`` as ``lr``). A peer with
    no section in configs/informer is built at its library's defaults."""
    if name == "s4":
        patch_len = section.get("patch_len", 1)
        dt_min, dt_max = DT_RANGE_PER_STEP if patch_len == 1 else DT_RANGE_PER_PATCH
        defaults = _darts_defaults(S4Model) | S4_UNNAMED | {"patch_len": 1, "dt_min": dt_min, "dt_max": dt_max, "lr": 1e-3}
    elif name in NEURALFORECAST_MODELS:
        import neuralforecast.models

        defaults = _keyword_defaults(getattr(neuralforecast.models, NEURALFORECAST_MODELS[name]).__init__)
        defaults["lr"] = defaults.pop("learning_rate")
    elif name in DARTS_MODELS:
        defaults = _darts_defaults(DARTS_MODELS[name]) | {"lr": 1e-3, "time_features": False}
    else:
        raise ValueError(f"unknown model {name!r}; valid: s4, {', '.join([*DARTS_MODELS, *NEURALFORECAST_MODELS])}")
    return defaults | section


def _darts_defaults(cls) -> dict:
    return _keyword_defaults(PLForecastingModule.__init__) | _keyword_defaults(cls.__init__)


def _keyword_defaults(init) -> dict:
    return {k: p.default for k, p in inspect.signature(init).parameters.items() if p.default is not inspect.Parameter.empty}


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
