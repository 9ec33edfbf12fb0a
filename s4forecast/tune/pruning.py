"""Optuna pruning from inside a Lightning training loop (``pytorch_lightning``, the namespace Darts and
the classifier both use).

It reports the monitored metric after every validation epoch; when the pruner says so it stops
training, and the objective raises ``optuna.TrialPruned`` after ``fit`` (raising inside Lightning's
loop would be swallowed into a failed fit).
"""

from __future__ import annotations

import optuna
import pytorch_lightning


class OptunaPruning(pytorch_lightning.Callback):
    """Report the monitored metric to an Optuna trial after each validation epoch; stop training when the
    pruner says so (``pruned`` then tells the objective to raise ``optuna.TrialPruned``).

    Parameters
    ----------
    trial
        The trial being trained.
    monitor
        The logged metric to report.
    direction
        ``minimize`` or ``maximize`` (the study minimises: a maximised metric is reported negated).
    """

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
        """Raise ``optuna.TrialPruned`` if the pruner stopped the trial (call after ``fit``)."""
        if self.pruned:
            raise optuna.TrialPruned(f"pruned at {self.monitor}={self.sign * self.best:.4g}")
