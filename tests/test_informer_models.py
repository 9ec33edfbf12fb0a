"""benchmarks.informer.models: every model that takes covariates can be given the time features S4 can,
so a sweep does not grant S4 an input its peers are denied."""

import numpy as np
import pandas as pd
import pytest
from darts import TimeSeries

from benchmarks.informer import config as informer_config
from benchmarks.informer.models import build

PEERS_WITH_COVARIATES = {"nlinear": "future", "dlinear": "future", "tide": "future", "tsmixer": "future", "nhits": "past"}


def _hourly(n: int = 400) -> TimeSeries:
    times = pd.date_range("2020-01-01", periods=n, freq="h")
    return TimeSeries.from_times_and_values(times, np.sin(np.arange(n) * 2 * np.pi / 24).astype(np.float32))


def _config(name: str, section: dict) -> dict:
    cfg = informer_config.load("ETTh1", "S")
    tiny = {"lookback": 48, "seed": 0, "trainer": {"max_epochs": 1, "patience": 1, "limit_train_batches": 2, "batch_size": 16}}
    return informer_config.merge(cfg, {**tiny, name: {"lr": 1e-3, **section}})


@pytest.mark.parametrize("name", list(PEERS_WITH_COVARIATES))
def test_time_features_reach_each_peer_as_the_covariates_it_takes(name, tmp_path):
    cfg = _config(
        name, {"time_features": True, "shared_weights": False} if name in ("nlinear", "dlinear") else {"time_features": True}
    )
    model = build(name, cfg, 12, tmp_path, progress=False)
    series = _hourly()
    model.fit(series[:300], val_series=series[300:])
    side = PEERS_WITH_COVARIATES[name]
    assert model.encoders.encoding_available
    assert getattr(model, f"uses_{side}_covariates")
    assert not getattr(model, f"uses_{'future' if side == 'past' else 'past'}_covariates")
    forecast = model.predict(12, series=series[:300])
    assert len(forecast) == 12 and np.isfinite(forecast.values()).all()


@pytest.mark.parametrize("name", ["nlinear", "dlinear", "tide"])
def test_a_peer_without_time_features_takes_no_covariates(name, tmp_path):
    model = build(name, _config(name, {}), 12, tmp_path, progress=False)
    series = _hourly()
    model.fit(series[:300], val_series=series[300:])
    assert not model.uses_future_covariates and not model.uses_past_covariates


@pytest.mark.parametrize(
    "name,section,problem",
    [("nlinear", {"time_features": True}, "shared_weights: false"), ("patchtst", {"time_features": True}, "does not take")],
)
def test_time_features_a_model_cannot_take_are_refused_by_name(name, section, problem, tmp_path):
    with pytest.raises(ValueError, match=problem) as info:
        build(name, _config(name, section), 12, tmp_path, progress=False)
    assert name in str(info.value)
