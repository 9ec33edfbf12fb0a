"""Regressions for inputs that used to give silently wrong output or errors from deep inside torch."""

import inspect

import numpy as np
import pytest
import torch
from darts.models.forecasting.pl_forecasting_module import PLForecastingModule
from darts.utils import timeseries_generation as tg

from s4forecast import S4Layer, S4Model
from s4forecast.forecasting import STREAMABLE
from s4forecast.ssm.systems import build_ssm
from s4forecast.trainers import quiet_trainer

TRAINER = quiet_trainer()


@pytest.fixture(scope="module")
def series():
    return tg.sine_timeseries(length=120, value_frequency=0.05, freq="h").astype(np.float32)


@pytest.fixture(scope="module")
def fitted(series):
    return S4Model(
        24, 8, d_model=8, n_layers=1, d_state=8, n_epochs=1, dropout=0.2, random_state=0, pl_trainer_kwargs=TRAINER, **STREAMABLE
    ).fit(series)


def test_rate_survives_save_load_and_untrained_model(fitted, series, tmp_path):
    slow = fitted.with_rate(0.25)
    expected = slow.predict(8, series=series).values()
    assert not np.allclose(expected, fitted.predict(8, series=series).values())
    slow.save(str(tmp_path / "slow.pt"))
    loaded = S4Model.load(str(tmp_path / "slow.pt"))
    np.testing.assert_allclose(loaded.predict(8, series=series).values(), expected, rtol=1e-6)
    assert slow.untrained_model().rate == 0.25
    assert fitted.untrained_model().rate == 1.0


@pytest.mark.parametrize("rate", [0, -1.0, float("inf"), float("nan"), "fast"])
def test_bad_rates_raise(fitted, rate):
    with pytest.raises(ValueError, match="positive finite"):
        fitted.with_rate(rate)
    with pytest.raises(ValueError, match="positive finite"):
        S4Layer(4, d_state=8)(torch.randn(1, 16, 4), rate=rate)


def test_stream_leaves_the_model_and_darts_defaults_in_training_mode(series):
    m = S4Model(
        24, 8, d_model=8, n_layers=1, d_state=8, n_epochs=1, dropout=0.2, random_state=0, pl_trainer_kwargs=TRAINER, **STREAMABLE
    ).fit(series)
    m.model.train()
    default_loss = inspect.signature(PLForecastingModule.__init__).parameters["loss_fn"].default
    m.stream(series[-24:])
    assert m.model.training and all(module.training for module in m.model.modules())
    assert default_loss.training


def test_stream_update_rejects_wrong_shapes_and_frequencies(fitted, series):
    stream = fitted.stream(series[:60])
    with pytest.raises(ValueError, match=r"shape \(steps, 1\)"):
        stream.update(np.zeros((3, 2)))
    other = tg.sine_timeseries(length=5, start=series.time_index[60], freq="30min").astype(np.float32)
    with pytest.raises(ValueError, match="frequency"):
        stream.update(other)
    stream.update(np.zeros(3))  # (steps,) for one component is fine
    for n in (0, -1, 2.5):
        with pytest.raises(ValueError, match="positive integer"):
            stream.forecast(n)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"output_chunk_length": 0}, "output_chunk_length"),
        ({"output_chunk_length": -3}, "output_chunk_length"),
        ({"input_chunk_length": 0}, "input_chunk_length"),
        ({"output_chunk_shift": -1}, "output_chunk_shift"),
        ({"rate": 0.0}, "rate"),
    ],
)
def test_chunk_lengths_and_rate_validated_at_construction(kwargs, match):
    args = {"input_chunk_length": 12, "output_chunk_length": 6} | kwargs
    with pytest.raises(ValueError, match=match):
        S4Model(**args)


def test_unknown_options_are_errors():
    with pytest.raises(ValueError, match="backend"):
        S4Layer(4, d_state=8, mode="diag", backend="nonsense")
    with pytest.raises(ValueError, match="rnak"):
        build_ssm("diag", 4, d_state=8, rnak=3)


def test_layer_input_type_and_dtype_errors_name_the_problem():
    layer = S4Layer(4, d_state=8)
    with pytest.raises(TypeError, match="float64.*float32"):
        layer(torch.randn(1, 16, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        layer(np.zeros((1, 16, 4), dtype=np.float32))
    with pytest.raises(TypeError, match="floating-point"):
        layer(torch.zeros(1, 16, 4, dtype=torch.int64))


def test_ssm_matrices_are_plain_tensors():
    A, B, C, dt = S4Layer(4, d_state=8, l_max=16).ssm_matrices()
    for t in (A, B, C, dt):
        assert not t.is_conj()
        t.detach().numpy()


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"d_state": 7}, "`d_state` must be even"),
        ({"init": "legx"}, "unknown `init`"),
        ({"backend": "gpu"}, "unknown `backend`"),
        ({"convolution": "winograd"}, "unknown `convolution`"),
        ({"dt_min": float("inf")}, "`dt_min`"),
    ],
)
def test_every_front_end_checks_the_s4_options_the_same_way(bad, match):
    from s4forecast.classification.model import S4Classifier

    for build in (
        lambda: S4Layer(4, **({"d_state": 8} | bad)),
        lambda: S4Model(12, 6, patch_len=1, **bad),
        lambda: S4Classifier(1, 2, d_model=4, n_layers=1, **({"d_state": 8} | bad)),
    ):
        with pytest.raises(ValueError, match=match):
            build()


def test_classifier_takes_backend_activation_and_postact():
    from s4forecast.classification.model import S4Classifier

    m = S4Classifier(1, 2, d_model=4, n_layers=1, d_state=8, backend="torch", activation="silu", postact="linear")
    layer = m.encoder.blocks[0].layer
    assert layer.ssm[0].backend == "torch" and isinstance(layer.activation, torch.nn.SiLU)
    assert isinstance(layer.output, torch.nn.Linear)


class TestSecondDay:
    """Mistakes that used to pass silently or fail deep inside torch, refused at the call that made them."""

    @pytest.mark.parametrize("rate", [0, -1, float("inf"), float("nan")])
    def test_setup_step_refuses_a_bad_rate(self, rate):
        from s4forecast import S4Encoder, S4Layer

        with pytest.raises(ValueError, match="rate must be a positive finite number"):
            S4Layer(8, d_state=8, l_max=16).setup_step(rate)
        with pytest.raises(ValueError, match="rate must be a positive finite number"):
            S4Encoder(2, d_model=8, n_layers=2, d_state=8, l_max=16).setup_step(rate)

    def test_encoder_step_needs_a_state_per_layer(self):
        from s4forecast import S4Encoder

        enc = S4Encoder(2, d_model=8, n_layers=2, d_state=8, l_max=16)
        enc.setup_step()
        state = enc.default_state(3)
        with pytest.raises(ValueError, match="list of 2 layer states"):
            enc.step(torch.zeros(3, 2), state[:1])
        with pytest.raises(ValueError, match=r"x_t must be a \(batch, 2\) tensor"):
            enc.step(torch.zeros(3, 5), state)

    @pytest.mark.parametrize(
        "x_t, state, message",
        [
            (torch.zeros(3, 5), None, r"x_t must be a \(batch, 8\) float tensor"),
            (torch.zeros(3, 8, dtype=torch.long), None, r"x_t must be a \(batch, 8\) float tensor"),
            (torch.zeros(3, 8), torch.zeros(2, 8, 4, dtype=torch.complex64), "state must be as default_state"),
            (torch.zeros(3, 8), torch.zeros(3, 8, 4), "state must be as default_state"),
        ],
    )
    def test_layer_step_checks_input_and_state(self, x_t, state, message):
        from s4forecast import S4Layer

        layer = S4Layer(8, d_state=8, l_max=16)
        layer.setup_step()
        with pytest.raises(ValueError, match=message):
            layer.step(x_t, layer.default_state(3) if state is None else state)

    @pytest.mark.parametrize(
        "name, value", [("bidirectional", "no"), ("prenorm", 1), ("channel_independent", "yes"), ("subtract_last", 0)]
    )
    def test_flags_must_be_bools(self, name, value):
        from s4forecast import S4Model

        with pytest.raises(ValueError, match=f"`{name}` must be True or False"):
            S4Model(12, 4, **{name: value})

    def test_numpy_numbers_are_taken(self):
        from s4forecast.nn import S4Options

        assert S4Options(dropout=np.float32(0.1), bidirectional=np.bool_(True)).dropout == pytest.approx(0.1)

    @pytest.mark.parametrize(
        "kwargs, message", [({"lr": -1e-3}, "lr"), ({"weight_decay": -0.1}, "weight_decay"), ({"lr": float("nan")}, "lr")]
    )
    def test_negative_learning_rates_are_refused(self, kwargs, message):
        from s4forecast import S4Model
        from s4forecast.classification.model import S4Classifier

        with pytest.raises(ValueError, match=f"{message}` must be"):
            S4Model(12, 4, optimizer_kwargs=kwargs)
        with pytest.raises(ValueError, match=f"`{message}` must be"):
            S4Classifier(1, 10, **kwargs)


class TestClassifierData:
    """The classifier's inputs and labels, refused by name at its own door."""

    @staticmethod
    def model(**kw):
        from s4forecast.classification.model import S4Classifier

        return S4Classifier(**{"d_input": 8, "n_classes": 3, "d_model": 8, "n_layers": 1, "d_state": 8, **kw})

    @pytest.mark.parametrize(
        "y, message",
        [
            (torch.tensor([0, 3]), r"labels must lie in \[0, n_classes=3\)"),
            (torch.tensor([-1, 0]), r"labels must lie in \[0, n_classes=3\)"),
            (torch.eye(3)[:2], "one-hot labels: pass y.argmax"),
            (torch.tensor([[0], [1]]), r"labels must be shaped \(batch,\)"),
        ],
    )
    def test_bad_labels(self, y, message):
        with pytest.raises(ValueError, match=message):
            self.model()._step((torch.randn(2, 5, 8), y), "train")

    def test_token_ids_beyond_the_vocabulary(self):
        m = self.model(d_input=4, vocab_size=10)
        with pytest.raises(ValueError, match=r"token ids must lie in \[0, vocab_size=10\)"):
            m(torch.tensor([[1, 2, 10]]))
        with pytest.raises(ValueError, match="token ids \\(integers\\)"):
            m(torch.randn(1, 3))

    def test_dual_needs_two_documents(self):
        m = self.model(d_input=4, vocab_size=10, dual=True)
        with pytest.raises(ValueError, match="two documents a row"):
            m(torch.ones(2, 5, dtype=torch.long))
        assert m(torch.ones(2, 2, 5, dtype=torch.long)).shape == (2, 3)

    def test_features_of_the_wrong_width(self):
        with pytest.raises(ValueError, match="d_input=8"):
            self.model()(torch.randn(2, 5, 7))


@pytest.mark.parametrize(
    "val_size, message", [(10**9, "val_size must be a whole number from 1 to"), (0, "val_size"), (0.2, "val_size")]
)
def test_a_validation_split_larger_than_the_data_is_refused(val_size, message):
    from s4forecast.classification.data import _hold_out

    with pytest.raises(ValueError, match=message):
        _hold_out(torch.utils.data.TensorDataset(torch.zeros(10, 1)), {"val_size": val_size})


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_static_covariates_are_refused_at_fit(series, value):
    import pandas as pd

    bad = series.with_static_covariates(pd.DataFrame({"store_size": [value]}))
    with pytest.raises(ValueError, match=r"`series`\[0\] has NaN/Inf static covariates \(store_size\)"):
        S4Model(24, 8, n_epochs=1, pl_trainer_kwargs=TRAINER).fit(bad)


def test_a_backend_that_cannot_run_here_is_refused_at_fit(series, monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    model = S4Model(24, 8, backend="triton", n_epochs=1, pl_trainer_kwargs={**TRAINER, "accelerator": "cpu"})
    with pytest.raises(ValueError, match="`backend`: backend='triton' needs the triton package and a CUDA device"):
        model.fit(series)
