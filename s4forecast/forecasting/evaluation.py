"""Test metrics of the Informer protocol: every window of the test split with stride 1, MSE and MAE
on the scaled values, averaged over windows, steps and components."""

from __future__ import annotations

import numpy as np
from darts import TimeSeries
from sklearn.metrics import mean_absolute_error, mean_squared_error


def test_windows(model, test: TimeSeries, lookback: int, horizon: int, verbose: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Forecast every window of the test split (Informer protocol: stride 1, no retraining).

    Parameters
    ----------
    model
        A fitted Darts forecasting model.
    test
        The test split with ``lookback`` steps of lead-in.
    lookback, horizon
        The model's context and the forecast length.
    verbose
        Darts' progress bar.

    Returns
    -------
    tuple of numpy.ndarray
        (forecasts, truth), each (windows, horizon, components).
    """
    forecasts = model.historical_forecasts(
        test,
        forecast_horizon=horizon,
        stride=1,
        retrain=False,
        last_points_only=False,
        start=lookback,
        start_format="position",
        overlap_end=False,
        verbose=verbose,
    )
    values = test.values(copy=False)
    truth = np.stack([values[lookback + i : lookback + i + horizon] for i in range(len(forecasts))])
    return np.stack([f.values(copy=False) for f in forecasts]), truth


def scores(forecast: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Mean squared and absolute error over every value.

    Parameters
    ----------
    forecast, truth
        Arrays of one shape.

    Returns
    -------
    dict
        ``{"mse": ..., "mae": ...}``.
    """
    if forecast.shape != truth.shape:
        raise ValueError(f"forecast {forecast.shape} and truth {truth.shape} differ in shape")
    f, t = forecast.reshape(-1, 1), truth.reshape(-1, 1)
    return {"mse": float(mean_squared_error(t, f)), "mae": float(mean_absolute_error(t, f))}
