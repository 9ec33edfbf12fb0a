"""The Darts non-public names S4Model relies on (s4forecast/forecasting/darts_private.py) still exist and
mean what it takes them to mean: a Darts upgrade that moves one fails here, by name."""

import inspect

import numpy as np
import pytest
from darts.dataprocessing.encoders import SequentialEncoder
from darts.models.forecasting.pl_forecasting_module import PLForecastingModule
from darts.models.forecasting.torch_forecasting_model import TorchForecastingModel
from darts.utils import timeseries_generation as tg

from s4forecast import S4Model
from s4forecast.forecasting import darts_private


@pytest.mark.parametrize("name", ["_extract_torch_model_params", "_extract_pl_module_params", "_default_save_path"])
def test_torch_model_methods_exist(name):
    assert callable(getattr(TorchForecastingModel, name, None)), f"Darts no longer has TorchForecastingModel.{name}"


def test_attributes_that_are_set_exist_with_their_meaning():
    m = S4Model(12, 4, use_static_covariates=False)
    assert m._considers_static_covariates is False and m.considers_static_covariates is False
    assert m._model_params is m.model_params or m._model_params == m.model_params
    assert isinstance(inspect.getattr_static(PLForecastingModule, "output_chunk_length"), property)
    assert "_output_chunk_length" in inspect.getsource(PLForecastingModule.__init__)


def test_encoder_state_names_exist():
    series = tg.linear_timeseries(length=40, freq="h").astype(np.float32)
    m = S4Model(12, 4, add_encoders={"datetime_attribute": {"future": ["hour"]}}, n_epochs=1, d_model=8, n_layers=1, d_state=8)
    encoders = m.initialize_encoders()
    assert isinstance(encoders, SequentialEncoder)
    encoders.encode_train(series)
    for name in darts_private.ENCODER_STATE:
        assert hasattr(encoders, name), f"Darts' SequentialEncoder has no {name}"
    assert darts_private.default_save_path(m).endswith(".pt")
