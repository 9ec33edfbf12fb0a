"""The closed-form ridge fit of the linear map window -> horizon, on every training window.

S4Model's ``linear_init='ridge'`` starts its linear skip here (``network.py``), so that the untrained
model already forecasts as the best linear map of the window. The windows are normalised exactly as the
network normalises its input: Darts' reversible instance norm (each window's mean and standard deviation
per component, ``RINorm`` at its identity affine start) when on, then NLinear's last-value centring when
``subtract_last`` is on. One map serves every component (the skip is shared), with an unpenalised bias,
fitted for the loss the network trains on, the squared error in the data's own units:

    W, b = argmin_{W, b} sum_windows s^2 || W x + b - y ||^2 + strength * n * ||W||_F^2

x the normalised window (input_chunk_length,), y its normalised horizon (output_chunk_length,), s the
window's standard deviation under instance norm (1 without: the error of the de-normalised forecast is s
times the normalised one, so a window of nearly constant values must not weigh 1 / s^2 more), n the
number of windows. ``strength`` is chosen among ``STRENGTHS`` by the MSE of the val windows (given), or of
the last fifth of each training series' windows (then the map is refitted on all of them), in the
data's units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

STRENGTHS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
RIN_EPS = 1e-5  # Darts' RINorm eps
CHUNK = 4096  # windows per block of the Gram sums


@dataclass(frozen=True)
class RidgeFit:
    """weight (output_chunk_length, input_chunk_length), bias (output_chunk_length,), the chosen strength and
    its selection MSE (normalised units).

    Attributes
    ----------
    weight
        (output_chunk_length, input_chunk_length).
    bias
        (output_chunk_length,).
    strength
        The chosen ridge strength.
    selection_mse
        Its MSE on the windows it was chosen on.
    """

    weight: np.ndarray
    bias: np.ndarray
    strength: float
    selection_mse: float


class _Moments:
    """Sums over windows of Z^T Z, Z^T Y and |Y|^2 with Z = [X, 1]: all that a ridge fit and its MSE need."""

    def __init__(self, icl: int, ocl: int):
        self.zz = np.zeros((icl + 1, icl + 1))
        self.zy = np.zeros((icl + 1, ocl))
        self.yy = 0.0
        self.n = 0

    def add(self, x: np.ndarray, y: np.ndarray, scale: np.ndarray) -> None:
        """Windows x (n, icl), y (n, ocl), each weighted by scale^2 (scale (n, 1))."""
        z = np.concatenate([x, np.ones((len(x), 1))], 1) * scale
        y = y * scale
        self.zz += z.T @ z
        self.zy += z.T @ y
        self.yy += float((y**2).sum())
        self.n += len(x)

    def __iadd__(self, other: _Moments) -> _Moments:
        self.zz += other.zz
        self.zy += other.zy
        self.yy += other.yy
        self.n += other.n
        return self

    def solve(self, strength: float) -> np.ndarray:
        """(icl + 1, ocl): the map's weights (transposed) with the bias as the last row."""
        penalty = np.full(len(self.zz), strength * self.n)
        penalty[-1] = 0.0  # the bias is not penalised
        return np.linalg.solve(self.zz + np.diag(penalty), self.zy)

    def mse(self, w: np.ndarray) -> float:
        ocl = self.zy.shape[1]
        return float((np.sum(w * (self.zz @ w)) - 2 * np.sum(w * self.zy) + self.yy) / (self.n * ocl))


def normalised_windows(values: np.ndarray, icl: int, shift: int, ocl: int, rin: bool, subtract_last: bool):
    """Every window of one series ``values`` (T, C), each component on its own, normalised as the network
    sees it: yields blocks (x (n, icl), y (n, ocl), scale (n, 1)), scale the instance norm's standard
    deviation (ones without it).

    Parameters
    ----------
    values
        (T, C).
    icl, shift, ocl
        Input length, output shift and output length.
    rin, subtract_last
        The network's normalisations.

    Yields
    ------
    tuple of numpy.ndarray
        (x (n, icl), y (n, ocl), scale (n, 1)).
    """
    values = np.asarray(values, dtype=np.float64)
    length = icl + shift + ocl
    if len(values) < length:
        return
    windows = sliding_window_view(values, length, axis=0)  # (T - length + 1, C, length)
    for start in range(0, len(windows), CHUNK):
        block = windows[start : start + CHUNK].reshape(-1, length)
        x, y = block[:, :icl], block[:, icl + shift :]
        std = np.ones((len(x), 1))
        if rin:
            mean = x.mean(1, keepdims=True)
            std = np.sqrt(x.var(1, keepdims=True) + RIN_EPS)
            x, y = (x - mean) / std, (y - mean) / std
        if subtract_last:
            x, y = x - x[:, -1:], y - x[:, -1:]
        yield x, y, std


def _moments(series_values, icl, shift, ocl, rin, subtract_last, holdout: float = 0.0) -> tuple[_Moments, _Moments]:
    """(fit, held out) moments; the held-out part is the last ``holdout`` share of each series' windows."""
    fit, held = _Moments(icl, ocl), _Moments(icl, ocl)
    for values in series_values:
        n_windows = max(len(values) - (icl + shift + ocl) + 1, 0)
        cut = n_windows - int(holdout * n_windows)
        parts = ((values[: cut + icl + shift + ocl - 1], fit), (values[cut:], held)) if holdout else ((values, fit),)
        for part, moments in parts:
            for block in normalised_windows(part, icl, shift, ocl, rin, subtract_last):
                moments.add(*block)
    return fit, held


def ridge_fit(
    series_values,
    icl: int,
    shift: int,
    ocl: int,
    rin: bool = False,
    subtract_last: bool = False,
    val_values=None,
    strengths=STRENGTHS,
) -> RidgeFit:
    """The closed-form ridge map window -> horizon over every training window of every component.

    Parameters
    ----------
    series_values
        A list of (T, C) arrays.
    icl, shift, ocl
        Input length, output shift and output length (Darts' chunk lengths).
    rin, subtract_last
        Normalise each window as the network does (reversible instance norm; last-value centring).
    val_values
        A list of (T, C) arrays to choose the strength on, when they hold a window; else the last fifth of
        the training windows.
    strengths
        The candidate strengths (times the number of windows, as sklearn's ``alpha``).

    Returns
    -------
    RidgeFit
        weight (ocl, icl), bias (ocl,), the chosen strength and its selection MSE.

    Raises
    ------
    ValueError
        No training window of ``icl + shift + ocl`` steps.
    """
    val_values = [v for v in (val_values or []) if len(v) >= icl + shift + ocl]
    if val_values:
        train, _ = _moments(series_values, icl, shift, ocl, rin, subtract_last)
        select, _ = _moments(val_values, icl, shift, ocl, rin, subtract_last)
    else:
        train, select = _moments(series_values, icl, shift, ocl, rin, subtract_last, holdout=0.2)
    if train.n == 0:
        raise ValueError(f"ridge fit: no training window of {icl + shift + ocl} steps (input + shift + output)")
    if select.n == 0:  # too few windows to hold some out: choose on the training windows themselves
        select = train
    scores = {s: select.mse(train.solve(s)) for s in strengths}
    best = min(scores, key=scores.get)
    if not val_values and select is not train:
        train += select  # refit on every training window
    w = train.solve(best)
    return RidgeFit(weight=w[:-1].T.copy(), bias=w[-1].copy(), strength=best, selection_mse=scores[best])
