"""Sweep objectives. ``forecast``: the best validation MSE (scaled values; the Informer protocol's
splits of a registered dataset or of a CSV, or a synthetic series for smoke tests: ``data/sources.py``)
of an S4Model trained with the sampled configuration.
``classify``: the best validation accuracy of an S4Classifier on a classification task."""

from __future__ import annotations

import math

import optuna

from s4forecast.data.sources import load_splits
from s4forecast.forecasting.s4_model import S4Model
from s4forecast.trainers import quiet_trainer
from s4forecast.tune import space as search_space
from s4forecast.tune.pruning import OptunaPruning


def forecast_objective(cfg: dict, data_dir=None):
    """An Optuna objective (trial -> best val MSE) for a sweep config (see ``configs/sweep/*.yaml``).

    Parameters
    ----------
    cfg
        A forecasting sweep config.
    data_dir
        Where the datasets are.

    Returns
    -------
    callable
        trial -> best val MSE.
    """
    search_space.validate(cfg["space"])
    obj = cfg["objective"]

    def objective(trial: optuna.Trial) -> float:
        params = search_space.sample(trial, cfg["space"])
        lr, lookback = params.pop("lr"), params.pop("lookback")
        splits = load_splits(cfg["data"], lookback, data_dir)
        pruning = OptunaPruning(trial)
        trainer = quiet_trainer(
            callbacks=[pruning],
            enable_progress_bar=obj.get("progress", False),
            **{k: obj[k] for k in ("limit_train_batches", "limit_val_batches") if k in obj},
        )
        model = S4Model(
            lookback,
            obj["horizon"],
            n_epochs=obj["n_epochs"],
            batch_size=obj["batch_size"],
            random_state=obj.get("seed", 0),
            optimizer_kwargs={"lr": lr},
            pl_trainer_kwargs=trainer,
            use_reversible_instance_norm=obj.get("use_reversible_instance_norm", True),
            **params,
        )
        model.fit(splits.train, val_series=splits.val)
        pruning.raise_if_pruned()
        if not math.isfinite(pruning.best):
            raise optuna.TrialPruned("validation loss is not finite")
        return pruning.best

    return objective


def classify_objective(cfg: dict, data_dir=None):
    """An Optuna objective (trial -> -best val accuracy, so that the study minimises) for a classification sweep.

    Parameters
    ----------
    cfg
        A classification sweep config.
    data_dir
        Where the datasets are.

    Returns
    -------
    callable
        trial -> minus the best val accuracy.
    """
    import pytorch_lightning as pl

    from s4forecast.classification.data import ClassificationData
    from s4forecast.classification.model import S4Classifier

    search_space.validate(cfg["space"])
    obj = cfg["objective"]
    data = ClassificationData(cfg["data"], obj["batch_size"], data_dir)

    def objective(trial: optuna.Trial) -> float:
        params = search_space.sample(trial, cfg["space"])
        params.pop("lookback", None)
        pruning = OptunaPruning(trial, monitor="val_acc", direction="maximize")
        model = S4Classifier(**data.dims, pooling=obj.get("pooling", "mean"), schedule=None, **params)
        trainer = pl.Trainer(
            **quiet_trainer(
                max_epochs=obj["n_epochs"],
                callbacks=[pruning],
                enable_progress_bar=obj.get("progress", False),
                **{k: obj[k] for k in ("limit_train_batches", "limit_val_batches") if k in obj},
            )
        )
        trainer.fit(model, datamodule=data)
        pruning.raise_if_pruned()
        return pruning.best  # -accuracy

    return objective


OBJECTIVES = {"forecast": forecast_objective, "classify": classify_objective}
COMMON_KEYS = ("task", "n_epochs", "batch_size")  # every objective section's, besides its own below
OPTIONAL_KEYS = ("seed", "progress", "limit_train_batches", "limit_val_batches")
KEYS = {  # task -> (required, optional) keys of its objective section
    "forecast": ((*COMMON_KEYS, "horizon"), (*OPTIONAL_KEYS, "use_reversible_instance_norm")),
    "classify": (COMMON_KEYS, (*OPTIONAL_KEYS, "pooling")),
}
