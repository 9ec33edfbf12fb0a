"""The forecasting layouts and the ridge-started linear skip, against independent references."""

import numpy as np
import pytest
import torch
from darts import concatenate
from darts.utils import timeseries_generation as tg
from darts.utils.likelihood_models import QuantileRegression
from sklearn.linear_model import Ridge

from s4forecast import S4Model
from s4forecast.forecasting.ridge import ridge_fit
from s4forecast.trainers import quiet_trainer

TRAINER = quiet_trainer()
SMALL = dict(d_model=8, n_layers=1, d_state=8, batch_size=16, random_state=0, pl_trainer_kwargs=TRAINER)


def reference_windows(values, icl, shift, ocl, rin, subtract_last):
    """Windows built one at a time with plain loops (the reference for ridge.py's strided blocks)."""
    xs, ys, ws = [], [], []
    for c in range(values.shape[1]):
        for t in range(len(values) - icl - shift - ocl + 1):
            x, y = values[t : t + icl, c].copy(), values[t + icl + shift : t + icl + shift + ocl, c].copy()
            std = 1.0
            if rin:
                mean, std = x.mean(), np.sqrt(x.var() + 1e-5)
                x, y = (x - mean) / std, (y - mean) / std
            if subtract_last:
                x, y = x - x[-1], y - x[-1]
            xs.append(x)
            ys.append(y)
            ws.append(std**2)  # the de-normalised forecast's squared error is std^2 times the normalised one
    return np.array(xs), np.array(ys), np.array(ws)


@pytest.mark.parametrize("rin, subtract_last, shift", [(False, False, 0), (True, True, 2), (False, True, 0)])
def test_ridge_fit_matches_sklearn(rin, subtract_last, shift):
    rng = np.random.default_rng(0)
    series = [np.cumsum(rng.normal(size=(90, 2)), 0), np.cumsum(rng.normal(size=(70, 1)), 0)]
    icl, ocl, strength = 12, 5, 1e-2
    fit = ridge_fit(series, icl, shift, ocl, rin, subtract_last, strengths=(strength,), val_values=[series[1]])
    parts = [reference_windows(v, icl, shift, ocl, rin, subtract_last) for v in series]
    x, y, w = (np.concatenate([p[i] for p in parts]) for i in range(3))
    ref = Ridge(alpha=strength * len(x)).fit(x, y, sample_weight=w)  # sklearn leaves the intercept unpenalised too
    np.testing.assert_allclose(fit.weight, ref.coef_, atol=1e-8)
    np.testing.assert_allclose(fit.bias, ref.intercept_, atol=1e-8)


@pytest.mark.parametrize("rin", [False, True])
def test_ridge_strength_is_chosen_on_val(rin):
    """The strength with the lowest val MSE in the data's units (instance-normalised errors times std)."""
    rng = np.random.default_rng(1)
    train, val = np.cumsum(rng.normal(size=(200, 1)), 0), np.cumsum(rng.normal(size=(80, 1)), 0)
    strengths = (1e-4, 1e-1, 10.0)
    fit = ridge_fit([train], 16, 0, 4, rin=rin, subtract_last=True, val_values=[val], strengths=strengths)
    x, y, w = reference_windows(train, 16, 0, 4, rin, True)
    xv, yv, wv = reference_windows(val, 16, 0, 4, rin, True)
    val_mse = {
        s: np.mean(wv[:, None] * (Ridge(alpha=s * len(x)).fit(x, y, sample_weight=w).predict(xv) - yv) ** 2) for s in strengths
    }
    assert fit.strength == min(val_mse, key=val_mse.get)
    assert fit.selection_mse == pytest.approx(val_mse[fit.strength], rel=1e-8)


def test_ridge_fit_without_a_window_names_the_lengths():
    with pytest.raises(ValueError, match="no training window of 17 steps"):
        ridge_fit([np.zeros((10, 1))], 12, 0, 5)


@pytest.fixture(scope="module")
def series():
    s = tg.sine_timeseries(length=160, value_frequency=0.05) + tg.linear_timeseries(length=160) * 0.5
    return concatenate([s, s * -0.5 + 1], axis=1).astype(np.float32)


@pytest.mark.parametrize("layout", ["masked", "lookback", "closed_loop"])
@pytest.mark.parametrize("rin", [False, True])
def test_untrained_ridge_start_forecasts_as_the_ridge_map(series, layout, rin):
    """Untrained (0 epochs): the network's forecast must be the ridge map's (the S4 part at zero)."""
    icl, ocl = 24, 6
    train, val = series[:120], series[120 - icl :]
    m = S4Model(
        icl,
        ocl,
        layout=layout,
        linear_skip=True,
        linear_init="ridge",
        subtract_last=True,
        n_epochs=0,
        use_reversible_instance_norm=rin,
        **SMALL,
    )
    m.fit(train, val_series=val)
    fit = ridge_fit([train.values()], icl, 0, ocl, rin=rin, subtract_last=True, val_values=[val.values()])
    window = train.values()[-icl:].astype(np.float64)  # (icl, C)
    mean, std = (window.mean(0), np.sqrt(window.var(0) + 1e-5)) if rin else (0.0, 1.0)
    x = (window - mean) / std
    expected = ((x - x[-1]).T @ fit.weight.T + fit.bias).T + x[-1]  # (ocl, C)
    expected = expected * std + mean
    np.testing.assert_allclose(m.predict(ocl, series=train).values(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layout", ["lookback", "closed_loop"])
@pytest.mark.parametrize("channel_independent", [False, True])
def test_context_layouts_with_covariates_and_quantiles(series, channel_independent, layout):
    past = tg.linear_timeseries(length=200).astype(np.float32)
    future = tg.sine_timeseries(length=200, value_frequency=0.1).astype(np.float32)
    target = series.with_static_covariates(__import__("pandas").DataFrame({"a": [1.0, 2.0]}))
    m = S4Model(
        24,
        6,
        layout=layout,
        patch_len=4,
        channel_independent=channel_independent,
        likelihood=QuantileRegression([0.1, 0.5, 0.9]),
        n_epochs=1,
        **SMALL,
    )
    m.fit(target, past_covariates=past, future_covariates=future)
    pred = m.predict(6, series=target, past_covariates=past, future_covariates=future, num_samples=20)
    assert pred.values().shape == (6, 2) and pred.n_samples == 20 and np.isfinite(pred.all_values()).all()
    assert m.model.future_head is not None and m.model.n_tokens == 6


@pytest.mark.parametrize("layout", ["lookback", "closed_loop"])
def test_context_layouts_read_the_future_covariates_of_the_horizon(series, layout):
    """Moving the horizon's future covariates must move the forecast (and the window's past must not
    be read from beyond the window)."""
    future = tg.sine_timeseries(length=200, value_frequency=0.1).astype(np.float32)
    m = S4Model(24, 6, layout=layout, n_epochs=1, use_reversible_instance_norm=False, **SMALL)
    m.fit(series[:120], future_covariates=future)
    with torch.no_grad():
        m.model.future_head.weight.fill_(1.0)
    base = m.predict(6, series=series[:120], future_covariates=future).values()
    shifted = future.with_values(future.values() + (np.arange(200) >= 120)[:, None].astype(np.float32))
    moved = m.predict(6, series=series[:120], future_covariates=shifted).values()
    np.testing.assert_allclose(moved - base, 1.0, rtol=1e-4)


@pytest.mark.parametrize("layout", ["lookback", "closed_loop"])
def test_context_layouts_learn_a_sine(layout):
    s = tg.sine_timeseries(length=600, value_frequency=0.05).astype(np.float32)
    m = S4Model(
        40,
        10,
        layout=layout,
        patch_len=4,
        n_epochs=8,
        random_state=0,
        d_model=16,
        n_layers=1,
        d_state=16,
        batch_size=32,
        pl_trainer_kwargs=TRAINER,
        optimizer_kwargs={"lr": 3e-3},
    )
    m.fit(s[:560])
    err = np.abs(m.predict(10, series=s[:560]).values() - s[560:570].values()).mean()
    assert err < 0.1, err  # a head that reads the wrong tokens or steps is off by ~0.3-0.7


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layout": "lookahead"}, "unknown `layout` 'lookahead'"),
        ({"linear_init": "ridge", "linear_skip": False}, "needs linear_skip=True"),
        ({"linear_init": "ones", "linear_skip": True}, "unknown `linear_init` 'ones'"),
        ({"decoder_dt_max": 1.0}, "needs layout='closed_loop'"),
        ({"layout": "closed_loop", "decoder_dt_min": 0.0}, "`decoder_dt_min` must be a positive finite number"),
        ({"layout": "closed_loop", "decoder_dt_max": float("nan")}, "`decoder_dt_max` must be a positive finite"),
        ({"layout": "closed_loop", "decoder_dt_min": "0.1"}, "`decoder_dt_min` must be a positive finite number"),
        ({"layout": "closed_loop", "decoder_dt_min": 5.0}, "need `decoder_dt_min` <= `decoder_dt_max`"),
    ],
)
def test_bad_layout_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        S4Model(24, 6, **kwargs)


@pytest.mark.parametrize("layout", ["lookback", "closed_loop"])
def test_context_layouts_refuse_stream_and_rate_change(series, layout):
    m = S4Model(24, 6, layout=layout, n_epochs=1, **SMALL).fit(series[:120])
    with pytest.raises(ValueError, match="stream\\(\\) needs layout='masked'"):
        m.stream(series[:120])
    with pytest.raises(ValueError, match="with_rate\\(\\) needs layout='masked'"):
        m.with_rate(0.5)


@pytest.mark.parametrize("layout", ["lookback", "closed_loop"])
def test_ridge_start_survives_save_and_load(series, tmp_path, layout):
    m = S4Model(24, 6, layout=layout, linear_skip=True, linear_init="ridge", n_epochs=1, **SMALL)
    m.fit(series[:120])
    m.save(str(tmp_path / "m.pt"))
    loaded = S4Model.load(str(tmp_path / "m.pt"))
    np.testing.assert_allclose(
        loaded.predict(6, series=series[:120]).values(), m.predict(6, series=series[:120]).values(), rtol=1e-6
    )


@pytest.mark.parametrize("shift, patch_len", [(0, 4), (3, 4), (2, 1)])
def test_closed_loop_rolls_out_the_shift_and_the_horizon(series, shift, patch_len):
    """The decoder rolls out ceil((shift + horizon) / patch_len) tokens and the forecast is the horizon's
    steps after the shift; its one-step loss is trained (finite, K moved) and not part of val loss."""
    m = S4Model(24, 6, layout="closed_loop", output_chunk_shift=shift, patch_len=patch_len, n_epochs=2, **SMALL)
    m.fit(series[:120], val_series=series[100:])
    assert m.model.n_out == -(-(shift + 6) // patch_len)
    assert torch.isfinite(m.model.one_step_loss) and m.model.decoder.K.abs().sum() > 0
    pred = m.predict(6, series=series[:120])
    assert len(pred) == 6 and pred.start_time() == series.time_index[120 + shift]


@pytest.mark.parametrize(
    "decoder_dt, expected", [({}, (0.001, 0.1)), ({"decoder_dt_min": 0.5, "decoder_dt_max": 2.0}, (0.5, 2.0))]
)
def test_closed_loop_decoder_has_its_own_step_range(series, tmp_path, decoder_dt, expected):
    """The decoder SSM's initial Δ lies in ``decoder_dt_min`` .. ``decoder_dt_max`` (None: the per-step
    default range, not the encoder's), while the encoder keeps its own; a saved model loads with the same decoder."""
    m = S4Model(24, 6, layout="closed_loop", patch_len=1, dt_min=0.02, dt_max=0.04, n_epochs=1, **decoder_dt, **SMALL)
    m.fit(series[:120])
    decoder, encoder = m.model.decoder.ssm.dt().detach(), m.model.encoder.blocks[0].layer.ssm[0].dt().detach()
    # log-uniform starts in the range; one epoch at lr 3e-4 moves them by far less than 10%
    assert 0.9 * expected[0] <= decoder.min() and decoder.max() <= 1.1 * expected[1]
    assert 0.018 <= encoder.min() and encoder.max() <= 0.044
    assert decoder.min() < 0.018 or decoder.max() > 0.044  # not the encoder's range
    m.save(str(tmp_path / "m.pt"))
    assert S4Model.load(str(tmp_path / "m.pt")).model.decoder_dt == expected


def test_ridge_fixed_trains_only_the_s4_part(series, tmp_path):
    """linear_init='ridge-fixed': the skip keeps the ridge fit through training (and after save / load and
    more training), the S4 part moves."""
    train, val = series[:120], series[96:]
    m = S4Model(24, 6, linear_skip=True, linear_init="ridge-fixed", n_epochs=2, **SMALL)
    m.fit(train, val_series=val)
    fit = ridge_fit([train.values()], 24, 0, 6, rin=True, subtract_last=True, val_values=[val.values()])
    np.testing.assert_allclose(m.model.skip.weight.detach().numpy(), fit.weight, rtol=1e-5, atol=1e-6)
    assert m.model.residual_head.weight.abs().sum() > 0
    m.save(str(tmp_path / "m.pt"))
    loaded = S4Model.load(str(tmp_path / "m.pt"))
    assert not loaded.model.skip.weight.requires_grad
    loaded.fit(train, val_series=val, epochs=1)
    np.testing.assert_allclose(loaded.model.skip.weight.detach().numpy(), fit.weight, rtol=1e-5, atol=1e-6)
