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

import numpy as np
import torch


def sample_times(n: int, step: float) -> np.ndarray:
    """Times (n,) of a run of ``n`` samples ``step`` apart: step, 2 step, ..., n step."""
    return step * np.arange(1, n + 1, dtype=np.float64)


def interpolation_matrix(times_from: np.ndarray, times_to: np.ndarray) -> torch.Tensor:
    """M (len(times_to), len(times_from)), float64: ``M @ values`` linearly interpolates values sampled
    at ``times_from`` (increasing) to ``times_to``, extrapolating the end segments' lines beyond either
    end (a single sample is held)."""
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
