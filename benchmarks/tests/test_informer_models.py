"""benchmarks.informer.models: every model that takes covariates can be given the time features S4 can,
so a sweep does not grant S4 an input its peers are denied; an epoch of the multivariate sweep trainer
holds the same number of sequences for every model."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from darts import TimeSeries
from pytorch_lightning.callbacks import Callback

from benchmarks.informer import config as informer_config
from benchmarks.informer.models import build
from benchmarks.informer.run import fit

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


class TrainBatches(Callback):
    """Counts the training batches Lightning runs."""

    def __init__(self):
        self.count = 0

    def on_train_batch_end(self, *args, **kwargs):
        self.count += 1


@pytest.mark.parametrize(
    "name,section,sequences_per_window",
    [
        ("s4", {"channel_independent": True}, 3),
        ("s4", {"channel_independent": False}, 1),
        ("patchtst", {}, 3),  # neuralforecast's univariate model: Darts folds the channels into the batch
        ("itransformer", {}, 1),  # a channel is a token: the window is one sequence
        ("tide", {}, 1),
    ],
)
def test_an_epoch_of_train_sequences_counts_a_channel_independent_models_channels(name, section, sequences_per_window, tmp_path):
    three_channels = _hourly(600).stack(_hourly(600) * 2).stack(_hourly(600) + 1)
    splits = SimpleNamespace(train=three_channels[:480], val=three_channels[-80:])
    s4_size = {"d_model": 8, "n_layers": 1, "d_state": 8, "time_features": False} if name == "s4" else {}
    cfg = _config(name, {**s4_size, **section})
    trainer = {"max_epochs": 1, "patience": 1, "limit_train_batches": None, "batch_size": 4, "train_sequences": 24}
    cfg = informer_config.merge(cfg, {"trainer": trainer})
    counter = TrainBatches()
    fit(name, cfg, 12, splits, tmp_path, progress=False, callbacks=(counter,))
    assert counter.count == math.ceil(24 / (4 * sequences_per_window))
