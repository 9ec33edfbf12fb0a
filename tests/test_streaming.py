"""Streaming forecasts (recurrent view) and zero-shot sampling-rate change of S4Model."""

import numpy as np
import pytest
from darts.utils import timeseries_generation as tg

from s4forecast import S4Model
from s4forecast.forecasting import STREAMABLE
from s4forecast.trainers import quiet_trainer

TRAINER = quiet_trainer()


@pytest.fixture(scope="module")
def series():
    s = tg.sine_timeseries(length=200, value_frequency=0.03, freq="h") + tg.gaussian_timeseries(length=200, std=0.1, freq="h")
    return s.astype(np.float32)


@pytest.fixture(scope="module", params=["nplr", "diag"])
def fitted(request, series):
    init = "legs" if request.param == "nplr" else "diag-lin"
    m = S4Model(
        24,
        8,
        d_model=16,
        n_layers=2,
        d_state=16,
        mode=request.param,
        init=init,
        n_epochs=1,
        batch_size=16,
        random_state=0,
        pl_trainer_kwargs=TRAINER,
        **STREAMABLE,
    )
    return m.fit(series)


@pytest.mark.parametrize("n", [5, 8])
def test_stream_equals_predict_on_the_same_context(fitted, series, n):
    history = series[-24:]
    stream = fitted.stream(history[:10])  # consume part, then update with the rest one step at a time
    for t in range(10, 24):
        stream.update(history[t : t + 1])
    pred = fitted.predict(n, series=history)
    got = stream.forecast(n)
    np.testing.assert_allclose(got.values(), pred.values(), rtol=1e-4, atol=1e-5)
    assert got.time_index.equals(pred.time_index)


def test_stream_forecast_leaves_state_and_accepts_arrays(fitted, series):
    stream = fitted.stream(series[:24])
    a = stream.forecast(8).values()
    b = stream.forecast(8).values()
    np.testing.assert_array_equal(a, b)
    stream.update(series[24:26].values())
    assert stream.forecast(3).start_time() == series.time_index[26]


def test_stream_rejects_gaps_and_nan(fitted, series):
    stream = fitted.stream(series[:24])
    with pytest.raises(ValueError, match="expects"):
        stream.update(series[30:31])
    with pytest.raises(ValueError, match="NaN"):
        stream.update(np.array([[np.nan]]))


def test_stream_rejects_reversible_instance_norm(series):
    m = S4Model(
        24, 8, d_model=8, n_layers=1, d_state=8, n_epochs=1, use_reversible_instance_norm=True, pl_trainer_kwargs=TRAINER
    ).fit(series)
    with pytest.raises(ValueError, match="reversible instance norm"):
        m.stream(series)


def test_with_rate_scales_dt_and_leaves_original(fitted, series):
    slow = fitted.with_rate(0.25)
    assert slow.model.rate == 0.25 and fitted.model.rate == 1.0
    layer, slow_layer = fitted.model.encoder.blocks[0].layer, slow.model.encoder.blocks[0].layer
    np.testing.assert_allclose(slow_layer.conv_kernel(32, rate=1.0).detach(), layer.conv_kernel(32, rate=1.0).detach())
    a, b = fitted.predict(8, series=series), slow.predict(8, series=series)
    assert not np.allclose(a.values(), b.values())
    # rate 1 is the identity
    np.testing.assert_allclose(fitted.with_rate(1.0).predict(8, series=series).values(), a.values(), rtol=1e-6)
    with pytest.raises(ValueError, match="positive"):
        fitted.with_rate(0)
