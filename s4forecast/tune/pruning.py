"""Optuna pruning from inside Darts' Lightning training loop.

Darts drives Lightning through the ``pytorch_lightning`` namespace, so the callback must be a
``pytorch_lightning`` Callback (Optuna's integration package targets ``lightning.pytorch``, which
Darts' Trainer rejects). It reports the monitored metric after every validation epoch; when the
pruner says so it stops training, and the objective raises ``optuna.TrialPruned`` after ``fit``
(raising inside Lightning's loop would be swallowed into a failed fit).
"""
from __future__ import annotations

import optuna
import pytorch_lightning as pl


class OptunaPruning(pl.Callback):
    def __init__(self, trial: optuna.Trial, monitor: str = "val_loss"):
        super().__init__()
        self.trial, self.monitor = trial, monitor
        self.pruned = False
        self.best = float("inf")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        self.best = min(self.best, value)
        self.trial.report(value, step=trainer.current_epoch)
        if self.trial.should_prune():
            self.pruned = True
            trainer.should_stop = True

    def raise_if_pruned(self) -> None:
        if self.pruned:
            raise optuna.TrialPruned(f"pruned with {self.monitor}={self.best:.4g}")
