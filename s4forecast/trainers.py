"""The keyword arguments of a Lightning ``Trainer`` (or Darts' ``pl_trainer_kwargs``) that trains in
silence, for jobs, sweeps, benchmarks and tests that keep their own results: no progress bar, no model
summary, no logger and, unless asked for, no checkpoints."""

from __future__ import annotations

QUIET = {"enable_progress_bar": False, "enable_model_summary": False, "logger": False}


def quiet_trainer(checkpoints: bool = False, **overrides) -> dict:
    """:data:`QUIET`, with ``enable_checkpointing=False`` unless ``checkpoints`` (then left to Lightning or
    Darts, e.g. for Darts' best-val weights), and ``overrides`` over both (callbacks, an accelerator, the
    progress bar back on, ...).

    Parameters
    ----------
    checkpoints
        Leave checkpointing on.
    **overrides
        Trainer keywords that win.

    Returns
    -------
    dict
    """
    return {**QUIET, **({} if checkpoints else {"enable_checkpointing": False}), **overrides}
