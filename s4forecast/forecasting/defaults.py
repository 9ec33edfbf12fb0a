"""S4Model's defaults, each written once: the encoder's options, the learning rates, the normalisation, and
the defaults that depend on the window (patch length, step size range) or the likelihood."""

from __future__ import annotations

import dataclasses

from darts.utils.likelihood_models import QuantileRegression

from s4forecast.nn.options import DEFAULTS as S4_DEFAULTS
from s4forecast.nn.options import is_integer

DT_RANGE_PER_STEP = (1e-3, 1e-1)  # S4 App. D.2
DT_RANGE_PER_PATCH = (1e-2, 1.0)  # chosen on val for patches of 16 steps (benchmarks/informer/README.md)
PATCH_FROM_LOOKBACK = 128  # input_chunk_length from which patch_len=None means 16
# S4's defaults (nn/options.py) with the forecasting ones S4's eight Informer studies favour (width 64, two
# layers; benchmarks/informer/results/defaults.md) and the dropout of the paper's forecasters (App. D.3.5)
DEFAULTS = dataclasses.replace(S4_DEFAULTS, d_model=64, n_layers=2, dropout=0.1)
# The optimiser's learning rate unless `optimizer_kwargs` names one, and the SSM parameters' (`ssm_lr`):
# about the median of S4's studies' best trials, and lower val loss than Darts' 1e-3 at ETTh1-96 and
# ETTh2-96 (benchmarks/informer/results/defaults.md)
DEFAULT_LR = 3e-4
# S4Model before 0.2 was d_model=128, n_layers=4, linear_skip=False, subtract_last=False,
# use_reversible_instance_norm=False, ssm_lr=1e-3, optimizer_kwargs={"lr": 1e-3}
# Reversible instance norm unless the user sets Darts' `use_reversible_instance_norm`: every best trial of
# S4's eight Informer studies ran with it (benchmarks/informer/results/defaults.md)
DEFAULT_REVERSIBLE_INSTANCE_NORM = True


def default_subtract_last(likelihood) -> bool:
    """``subtract_last=None``: on for point forecasts and quantile regression, which it shifts exactly; off
    for a parametric likelihood, whose scale parameters a shift would corrupt.

    Parameters
    ----------
    likelihood
        Darts' likelihood model, or None.

    Returns
    -------
    bool
    """
    return likelihood is None or isinstance(likelihood, QuantileRegression)


def default_patch_len(input_chunk_length: int) -> int:
    """``patch_len=None``: 16 for lookbacks of at least 128 steps (>= 8 context patches), else 1.

    Parameters
    ----------
    input_chunk_length
        The lookback.

    Returns
    -------
    int
    """
    return 16 if is_integer(input_chunk_length) and input_chunk_length >= PATCH_FROM_LOOKBACK else 1


def window_defaults(input_chunk_length: int, patch_len: int | None, dt_min: float | None, dt_max: float | None):
    """``(patch_len, dt_min, dt_max)`` with each ``None`` resolved: the patch length from the lookback, the
    step size range from the patch length (in units of one encoder position).

    Parameters
    ----------
    input_chunk_length
        The lookback.
    patch_len, dt_min, dt_max
        As given to S4Model (None: the default).

    Returns
    -------
    tuple
        (patch_len, dt_min, dt_max).
    """
    patch_len = default_patch_len(input_chunk_length) if patch_len is None else patch_len
    default_dt = DT_RANGE_PER_STEP if patch_len == 1 else DT_RANGE_PER_PATCH
    return patch_len, default_dt[0] if dt_min is None else dt_min, default_dt[1] if dt_max is None else dt_max


def optimiser_defaults(model_params: dict, pl_module_params: dict) -> dict:
    """Darts' module parameters with S4Model's defaults where the user set nothing: reversible instance
    norm, and the optimiser's learning rate.

    Parameters
    ----------
    model_params
        The arguments S4Model was called with.
    pl_module_params
        Darts' module parameters.

    Returns
    -------
    dict
        A copy with the defaults filled in.
    """
    out = dict(pl_module_params)
    if "use_reversible_instance_norm" not in model_params:
        out["use_reversible_instance_norm"] = DEFAULT_REVERSIBLE_INSTANCE_NORM
    optimizer = out.get("optimizer_kwargs") or {}
    if "lr" not in optimizer:
        out["optimizer_kwargs"] = {**optimizer, "lr": DEFAULT_LR}
    return out
