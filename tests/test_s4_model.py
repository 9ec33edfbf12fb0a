"""S4Model as a Darts torch model, following Darts' own torch-model test conventions."""

import numpy as np
import pandas as pd
import pytest
import torch
from darts import TimeSeries, concatenate
from darts.utils import timeseries_generation as tg
from darts.utils.likelihood_models import GaussianLikelihood, QuantileRegression

from s4forecast import S4Model
from s4forecast.trainers import quiet_trainer

TRAINER = quiet_trainer()
SMALL = dict(d_model=8, n_layers=1, d_state=8, batch_size=16, random_state=0, pl_trainer_kwargs=TRAINER)


def model(icl=12, ocl=6, n_epochs=1, **kw):
    return S4Model(icl, ocl, n_epochs=n_epochs, **(SMALL | kw))


@pytest.fixture(scope="module")
def target():
    return (tg.sine_timeseries(length=120, value_frequency=0.05) + tg.linear_timeseries(length=120) * 0.1).astype(np.float32)


@pytest.fixture(scope="module")
def multi_target(target):
    return concatenate([target, target * 2 + 1], axis=1)


@pytest.fixture(scope="module")
def covariates():
    return tg.datetime_attribute_timeseries(
        pd.date_range("2000-01-01", periods=200, freq="D"), "dayofweek", one_hot=False
    ).astype(np.float32)


@pytest.fixture(scope="module")
def fitted(target):
    return model().fit(target)


@pytest.mark.parametrize("n", [3, 6, 14])  # shorter, equal, longer (autoregressive) than output_chunk_length
def test_predict_lengths_and_index(fitted, target, n):
    pred = fitted.predict(n, series=target)
    assert len(pred) == n
    assert pred.start_time() == target.end_time() + target.freq
    assert np.isfinite(pred.values()).all()


@pytest.mark.parametrize("icl, patch_len", [(40, 1), (42, 4)])  # per step; patches, context and horizon not whole patches
def test_sine_forecast_is_accurate(icl, patch_len):
    """A mis-masked horizon, an output slice off by one step or a horizon decoded from the wrong patch
    gives errors of ~0.3 here."""
    series = tg.sine_timeseries(length=600, value_frequency=0.05).astype(np.float32)
    train, test = series[:560], series[560:]
    m = S4Model(
        icl,
        10,
        patch_len=patch_len,
        d_model=32,
        n_layers=2,
        d_state=16,
        n_epochs=8,
        batch_size=32,
        random_state=0,
        dropout=0.0,
        optimizer_kwargs={"lr": 1e-2},
        pl_trainer_kwargs=TRAINER,
    )
    m.fit(train)
    pred = m.predict(10, series=train)
    mae = np.abs(pred.values() - test[:10].values()).mean()
    assert mae < 0.06, mae
    shifted = np.abs(pred.values()[1:] - test[:9].values()).mean()  # the same forecast one step late
    assert mae < shifted


def test_past_and_future_covariates_multivariate_multiple_series(multi_target, covariates):
    other = multi_target * 0.5
    m = model()
    m.fit([multi_target, other], past_covariates=[covariates, covariates], future_covariates=[covariates, covariates])
    preds = m.predict(8, series=[multi_target, other], past_covariates=[covariates] * 2, future_covariates=[covariates] * 2)
    assert [p.n_components for p in preds] == [2, 2] and all(len(p) == 8 for p in preds)
    # the future covariates reach the forecast: changing them changes the prediction
    changed = m.predict(4, series=multi_target, past_covariates=covariates, future_covariates=covariates * 3)
    same = m.predict(4, series=multi_target, past_covariates=covariates, future_covariates=covariates)
    assert not np.allclose(changed.values(), same.values())


def test_covariates_not_covering_the_horizon_raise(target, covariates):
    m = model().fit(target, future_covariates=covariates)
    with pytest.raises(ValueError, match="future_covariates"):
        m.predict(6, series=target, future_covariates=covariates[: len(target) + 2])


def test_static_covariates_are_used(target):
    a = target.with_static_covariates(pd.DataFrame({"site": [0.0]}))
    b = (target * 2).with_static_covariates(pd.DataFrame({"site": [1.0]}))
    m = model().fit([a, b])
    assert m.model.encoder.d_input == 1 + 1 + 1  # target, static, mask
    p0 = m.predict(4, series=a)
    p1 = m.predict(4, series=a.with_static_covariates(pd.DataFrame({"site": [1.0]})))
    assert not np.allclose(p0.values(), p1.values())


def test_channel_independent_multivariate(multi_target):
    m = model(channel_independent=True).fit(multi_target)
    assert m.model.encoder.d_input == 1 + 1  # one component + mask
    assert m.predict(6).n_components == 2


@pytest.mark.parametrize("likelihood", [GaussianLikelihood(), QuantileRegression([0.1, 0.5, 0.9])])
def test_probabilistic(target, likelihood):
    m = model(likelihood=likelihood).fit(target)
    pred = m.predict(6, num_samples=50)
    assert pred.n_samples == 50
    assert pred.quantile(0.9).values().mean() > pred.quantile(0.1).values().mean()


def test_mc_dropout_gives_different_samples(target):
    m = model(dropout=0.3).fit(target)
    pred = m.predict(6, num_samples=10, mc_dropout=True)
    assert pred.n_samples == 10 and pred.all_values().std(axis=2).mean() > 0


@pytest.mark.parametrize("rin", [False, True])
def test_reversible_instance_norm(target, rin):
    m = model(use_reversible_instance_norm=rin).fit(target)
    assert (getattr(m.model, "rin", None) is not None) == rin
    assert np.isfinite(m.predict(6).values()).all()


def test_save_load_identical_predictions(fitted, target, tmp_path):
    path = tmp_path / "s4.pt"
    fitted.save(str(path))
    loaded = S4Model.load(str(path))
    np.testing.assert_array_equal(fitted.predict(9, series=target).values(), loaded.predict(9, series=target).values())


def test_validation_between_steps_does_not_leave_a_stale_kernel(target, tmp_path):
    """Validation runs without autograd between (fused AdamW) steps: each pass, and prediction after
    training, must use the SSM kernel of the current weights, as a freshly loaded copy does."""
    m = model(n_epochs=3, optimizer_kwargs={"lr": 1e-2}, ssm_lr=1e-2).fit(target, val_series=target)
    assert m.model.optimizers().optimizer.defaults.get("fused")  # the in-place update without a version bump
    path = tmp_path / "s4.pt"
    m.save(str(path))
    loaded = S4Model.load(str(path))
    np.testing.assert_allclose(m.predict(6, series=target).values(), loaded.predict(6, series=target).values(), rtol=1e-6)


def test_checkpoints_and_untrained_model(target, tmp_path):
    m = model(
        n_epochs=2,
        model_name="s4ckpt",
        work_dir=str(tmp_path),
        save_checkpoints=True,
        force_reset=True,
        pl_trainer_kwargs=TRAINER | {"enable_checkpointing": True},
    )
    m.fit(target, val_series=target)
    best = S4Model.load_from_checkpoint("s4ckpt", work_dir=str(tmp_path), best=True)
    assert len(best.predict(6, series=target)) == 6
    fresh = m.untrained_model()
    assert fresh.model is None and fresh.model_params["d_state"] == 8


def test_historical_forecasts_and_backtest(fitted, target):
    hf = fitted.historical_forecasts(target, start=0.7, forecast_horizon=6, retrain=False, last_points_only=False)
    assert len(hf) > 1 and all(len(f) == 6 for f in hf)
    err = fitted.backtest(target, historical_forecasts=hf, last_points_only=False)
    assert np.isfinite(err)


def test_inputs_not_mutated(target, covariates):
    t, c = target.copy(), covariates.copy()
    m = model(use_reversible_instance_norm=True).fit(target, future_covariates=covariates)
    m.predict(6, series=target, future_covariates=covariates)
    np.testing.assert_array_equal(t.values(), target.values())
    np.testing.assert_array_equal(c.values(), covariates.values())


def test_float64_series_gives_float64_model(target):
    m = model().fit(target.astype(np.float64))
    assert next(m.model.parameters()).dtype == torch.float64
    assert m.predict(6).dtype == np.float64


def test_ssm_parameters_get_their_own_group():
    m = model(ssm_lr=1e-4, optimizer_kwargs={"lr": 1e-2, "weight_decay": 0.05})
    m.fit(tg.sine_timeseries(length=60).astype(np.float32))
    opt = m.model.configure_optimizers()
    lrs = sorted((g["lr"], g["weight_decay"]) for g in opt.param_groups)
    assert lrs == [(1e-4, 0.0), (1e-2, 0.05)]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(init="legx"), "unknown `init`"),
        (dict(d_state=7), "`d_state` must be even"),
        (dict(mode="diag", init="diag-lin", discretization="euler"), "unknown `discretization`"),
        (dict(init="legt", rank=1), "rank"),
        (dict(dt_min=0.1, dt_max=0.01), "dt_min"),
        (dict(mode="fast"), "unknown `mode`"),
        (dict(discretization="zoh"), "bilinear"),
    ],
)
def test_invalid_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        model(**kwargs)


def test_too_short_series(target):
    with pytest.raises(ValueError, match="fewer than input_chunk_length"):
        model(icl=100, ocl=30).fit(target)


def test_nan_in_series(target):
    values = target.values().copy()
    values[50] = np.nan
    bad = TimeSeries.from_times_and_values(target.time_index, values)
    with pytest.raises(ValueError, match="NaN"):
        model().fit(bad)
    with pytest.raises(ValueError, match="NaN"):
        model().fit(target).predict(6, series=bad)


def test_subtract_last_makes_forecasts_shift_equivariant(target):
    """Centred on the last value, the network sees the same input for series + c and adds c back;
    without it (control) a level shift changes the forecast's shape."""
    shifted = target + 5.0
    m = model(subtract_last=True, use_reversible_instance_norm=False).fit(target)
    np.testing.assert_allclose(m.predict(6, series=shifted).values(), m.predict(6, series=target).values() + 5.0, atol=1e-4)
    control = model(subtract_last=False, use_reversible_instance_norm=False).fit(target)
    assert not np.allclose(
        control.predict(6, series=shifted).values(), control.predict(6, series=target).values() + 5.0, atol=1e-2
    )
    q = model(subtract_last=True, likelihood=QuantileRegression([0.1, 0.5, 0.9])).fit(target)
    assert np.isfinite(q.predict(6, num_samples=4).values()).all()
    with pytest.raises(ValueError, match="subtract_last"):
        model(subtract_last=True, likelihood=GaussianLikelihood())
    with pytest.raises(ValueError, match="subtract_last=False"):
        m.stream(target)


def test_linear_skip_adds_a_shared_linear_map_of_each_window(multi_target):
    """With the S4 head zeroed, the forecast is exactly the skip's map of each component's window,
    computed here as an explicit float64 sum (weights shared by the components, one per parameter)."""
    m = model(
        linear_skip=True,
        subtract_last=False,
        use_reversible_instance_norm=False,
        channel_independent=True,
        likelihood=QuantileRegression([0.1, 0.5, 0.9]),
    ).fit(multi_target)
    assert np.isfinite(m.predict(6, series=multi_target, num_samples=4).values()).all()
    with pytest.raises(ValueError, match="linear_skip=False"):
        m.stream(multi_target)
    with pytest.raises(ValueError, match="linear_skip=False"):
        m.with_rate(0.5, resample=False)
    module = m.model.double()
    with torch.no_grad():
        module.head.weight.zero_()
        module.head.bias.zero_()
    window = torch.as_tensor(multi_target.values()[-12:], dtype=torch.float64)[None]  # (1, 12, 2)
    h = module.encoder(module.tokens(module.sequence(window, 6)), 1.0)
    out = module.predictions(module.horizon(h), 1) + module.linear_forecast(window)
    W = module.skip.weight.detach().numpy().reshape(6, 3, 12)
    b = module.skip.bias.detach().numpy().reshape(6, 3)
    assert np.abs(W).max() > 1e-4  # trained away from its zero start
    x = window[0].numpy()
    expected = np.einsum("tpl,lc->tcp", W, x) + b[:, None, :]
    np.testing.assert_allclose(out[0].detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_linear_skip_learns_a_linear_trend_the_window_extrapolates():
    """A steep ramp lies outside the training range, so only a linear map of the window extrapolates it;
    the skip's forecast error must be far below the plain S4 model's (control) after the same training."""
    ramp = TimeSeries.from_values(np.arange(300, dtype=np.float32) * 0.05)
    train = ramp[:240]
    common = dict(
        n_epochs=15, optimizer_kwargs={"lr": 1e-2}, dropout=0.0, subtract_last=False, use_reversible_instance_norm=False
    )
    errors = {}
    for skip in (False, True):
        m = model(linear_skip=skip, **common).fit(train)
        errors[skip] = np.abs(m.predict(6, series=ramp[:290]).values() - ramp[290:296].values()).mean()
    assert errors[True] < 0.2 * errors[False], errors
