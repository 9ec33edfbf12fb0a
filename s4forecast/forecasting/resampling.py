"""Resampling the step-tied weights of a forecasting model to another sampling rate (S4Model.with_rate).

The SSM itself changes rate by its step size alone (S4 Sec. 4.3: Δ x r). The weights that map a fixed
number of steps (a linear map over the input window, a patch embedding, a per-patch head) change rate
by composing them with linear interpolation between the two sampling grids (extrapolated over the
part of a step before the first or after the last sample), for values that are point samples of one
underlying signal (as ETTh1's hourly values are ETTm1's 15-minute values on the hour).

Time runs in units of the old step; ``rate`` is the new step in those units (0.25: four times as many
samples). A run of ``n`` samples ending at a shared time sits at offsets ``step * (1 .. n)`` after the
run's start, which lines up both grids' last context sample and first forecast step.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from darts.logging import raise_log

from s4forecast.forecasting.darts_private import resized_encoders, set_model_params
from s4forecast.nn.options import is_positive_finite


def sample_times(n: int, step: float) -> np.ndarray:
    """Times (n,) of a run of ``n`` samples ``step`` apart: step, 2 step, ..., n step.

    Parameters
    ----------
    n
        Samples.
    step
        Their spacing.

    Returns
    -------
    numpy.ndarray
    """
    return step * np.arange(1, n + 1, dtype=np.float64)


def interpolation_matrix(times_from: np.ndarray, times_to: np.ndarray) -> torch.Tensor:
    """M (len(times_to), len(times_from)), float64: ``M @ values`` linearly interpolates values sampled
    at ``times_from`` (increasing) to ``times_to``, extrapolating the end segments' lines beyond either
    end (a single sample is held).

    Parameters
    ----------
    times_from, times_to
        The two grids' sample times.

    Returns
    -------
    torch.Tensor
    """
    n = len(times_from)
    M = np.zeros((len(times_to), n))
    if n == 1:
        M[:, 0] = 1.0
        return torch.as_tensor(M)
    left = np.clip(np.searchsorted(times_from, times_to, side="right") - 1, 0, n - 2)
    w = (times_to - times_from[left]) / (times_from[left + 1] - times_from[left])
    rows = np.arange(len(times_to))
    M[rows, left] = 1.0 - w
    M[rows, left + 1] = w
    return torch.as_tensor(M)


def resample_axis(weight: torch.Tensor, axis: int, rate: float, *, reads: bool) -> torch.Tensor:
    """``weight`` with its ``axis`` of ``n`` old samples turned into ``round(n / rate)`` new samples of
    the same span: an axis the weight ``reads`` (an input window, a patch embedding) then reads the new
    samples through new -> old interpolation; an axis it writes (a forecast, a patch decoder) writes
    the new samples, interpolated from what it wrote at the old ones.

    Parameters
    ----------
    weight
        Any tensor.
    axis
        The axis of ``n`` step-tied entries.
    rate
        The new step over the old.
    reads
        Whether the axis reads the samples (an input axis) or writes them (an output axis).

    Returns
    -------
    torch.Tensor
    """
    n_old = weight.shape[axis]
    n_new = round(n_old / rate)
    t_old, t_new = sample_times(n_old, 1.0), sample_times(n_new, rate)
    moved = weight.movedim(axis, -1)
    if reads:  # weight . x_old with x_old = M x_new: weight @ M, M (n_old, n_new)
        out = moved @ interpolation_matrix(t_new, t_old).to(weight.dtype)
    else:  # y_new = M y_old, M (n_new, n_old), applied to the weight's output axis
        out = moved @ interpolation_matrix(t_old, t_new).to(weight.dtype).T
    return out.movedim(-1, axis).contiguous()


def resampled_copy(model, rate: float, resample: bool = True):
    """A copy of the fitted S4Model ``model`` for data sampled with steps ``rate`` times as long
    (:meth:`S4Model.with_rate <s4forecast.forecasting.s4_model.S4Model.with_rate>`): a model trained on
    hourly data runs on 15-minute data with ``rate=0.25``, a 15-minute model on hourly data with ``rate=4``.

    ``resample=True`` resamples the whole model, so that it reads the same span of time and forecasts the
    same span ahead: every step size Δ x ``rate``; ``input_chunk_length``, ``output_chunk_length`` and
    ``output_chunk_shift`` divided by ``rate``; a patch keeps its span (``patch_len / rate`` steps, the patch
    embedding and head resampled by linear interpolation, Δ per patch unchanged); the linear skip reads the
    new window and writes the new horizon through linear interpolation. The values are taken as point
    samples of one signal (ETTh1 is ETTm1 on the hour). Every resampled length must be a whole number of
    steps. ``resample=False`` only multiplies Δ: chunk lengths stay in steps (and so cover another span),
    which needs ``patch_len=1`` and ``linear_skip=False``.

    Parameters
    ----------
    model
        A fitted S4Model with the masked layout.
    rate
        The new data's step over the old.
    resample
        Resample lengths, patches and the linear skip too, or only multiply Δ.

    Returns
    -------
    S4Model
    """
    if model.model is None:
        raise_log(ValueError("with_rate() needs a fitted model: call fit() first"))
    if not is_positive_finite(rate):
        raise_log(ValueError(f"rate must be a positive finite number; got {rate!r}"))
    if model.layout != "masked":
        raise_log(ValueError(f"with_rate() needs layout='masked'; this model has layout={model.layout!r}"))
    if not resample and model.patch_len > 1:
        raise_log(
            ValueError(f"with_rate(resample=False) needs patch_len=1: a patch is {model.patch_len} steps of the training rate")
        )
    if not resample and model.linear_skip:
        raise_log(
            ValueError("with_rate(resample=False) needs linear_skip=False: the skip's weights are per step of the training rate")
        )
    names = ("input_chunk_length", "output_chunk_length", "output_chunk_shift") + (("patch_len",) if model.patch_len > 1 else ())
    lengths = {name: getattr(model, name) for name in names}
    new = {name: resampled_length(name, n, rate) for name, n in lengths.items()} if resample else {}
    clone = copy.deepcopy(model)  # Darts' pickling state leaves out the network and trainer
    clone.model = copy.deepcopy(model.model)
    if resample:
        clone.model.resample_(rate)
    else:
        clone.model.rate.mul_(rate)
    clone.rate = float(clone.model.rate)
    clone.patch_len = clone.model.patch_len
    set_model_params(clone, {**model.model_params, **new, "rate": clone.rate})  # save/load and untrained_model() keep them
    clone.pl_module_params = {**model.pl_module_params, **{k: v for k, v in new.items() if k in model.pl_module_params}}
    if resample and model.encoders is not None and model.encoders.encoding_available:
        clone.encoders = resized_encoders(clone, model.encoders)
    return clone


def resampled_length(name: str, n: int, rate: float) -> int:
    """``n / rate`` steps, which must be a whole number (at least 1 for a patch).

    Parameters
    ----------
    name
        The length's name, for the error.
    n
        The length in old steps.
    rate
        The new step over the old.

    Returns
    -------
    int
    """
    steps = n / rate
    if abs(steps - round(steps)) > 1e-9 * max(1.0, steps) or (name == "patch_len" and round(steps) < 1):
        raise_log(
            ValueError(f"with_rate({rate}) needs {name} / rate to be a whole number of steps; {name} {n} / {rate} = {steps:g}")
        )
    return round(steps)
