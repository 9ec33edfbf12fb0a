"""Optuna pruning from inside a Lightning training loop, for both Lightning namespaces.

Darts drives Lightning through ``pytorch_lightning`` and the classifier through ``lightning.pytorch``;
each Trainer accepts only callbacks of its own namespace (Optuna's integration package targets
``lightning.pytorch`` alone), so the callback is built for each. It reports the monitored metric after
every validation epoch; when the pruner says so it stops training, and the objective raises
``optuna.TrialPruned`` after ``fit`` (raising inside Lightning's loop would be swallowed into a failed fit).
"""
from __future__ import annotations

import lightning.pytorch
import optuna
import pytorch_lightning


def _pruning_callback(base: type) -> type:
    class Pruning(base):
        def __init__(self, trial: optuna.Trial, monitor: str = "val_loss", direction: str = "minimize"):
            super().__init__()
            self.trial, self.monitor, self.sign = trial, monitor, 1.0 if direction == "minimize" else -1.0
            self.pruned = False
            self.best = float("inf")  # of sign * metric

        def on_validation_end(self, trainer, pl_module) -> None:
            if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
                return
            value = float(trainer.callback_metrics[self.monitor])
            self.best = min(self.best, self.sign * value)
            self.trial.report(value, step=trainer.current_epoch)
            if self.trial.should_prune():
                self.pruned = True
                trainer.should_stop = True

        def raise_if_pruned(self) -> None:
            if self.pruned:
                raise optuna.TrialPruned(f"pruned at {self.monitor}={self.sign * self.best:.4g}")

    Pruning.__name__ = Pruning.__qualname__ = f"OptunaPruning[{base.__module__.split('.')[0]}]"
    return Pruning


OptunaPruning = _pruning_callback(pytorch_lightning.Callback)  # for Darts models
LightningOptunaPruning = _pruning_callback(lightning.pytorch.Callback)  # for S4Classifier
