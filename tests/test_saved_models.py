"""Models saved by an earlier release load and predict as they did, and the same seed trains the same model.

tests/data/s4model_cdcb4e6.pt(.ckpt) and its forecast were written by the code of git cdcb4e6 (before the
layouts had modules of their own), with the model and series below."""

from pathlib import Path

import numpy as np
from darts.utils import timeseries_generation as tg

from s4forecast import S4Model
from s4forecast.trainers import quiet_trainer

DATA = Path(__file__).resolve().parent / "data"
TRAINER = quiet_trainer()


def series():
    return (tg.sine_timeseries(length=200, value_frequency=0.05) + tg.linear_timeseries(length=200) * 0.3).astype(np.float32)


def test_model_saved_by_the_earlier_release_predicts_the_same():
    model = S4Model.load(str(DATA / "s4model_cdcb4e6.pt"))
    expected = np.loadtxt(DATA / "s4model_cdcb4e6_forecast.txt")
    np.testing.assert_allclose(model.predict(8, series=series()[:160]).values()[:, 0], expected, rtol=1e-5, atol=1e-6)


def test_the_same_seed_trains_the_model_the_earlier_release_trained():
    """The network's layers draw their initial weights, and training its random numbers, in the old order."""
    model = S4Model(
        24,
        8,
        d_model=8,
        n_layers=1,
        d_state=8,
        patch_len=4,
        linear_skip=True,
        subtract_last=True,
        use_reversible_instance_norm=False,  # that release's defaults
        ssm_lr=1e-3,
        optimizer_kwargs={"lr": 1e-3},
        n_epochs=2,
        batch_size=16,
        random_state=0,
        pl_trainer_kwargs=TRAINER,
    )
    model.fit(series()[:160])
    expected = np.loadtxt(DATA / "s4model_cdcb4e6_forecast.txt")
    np.testing.assert_allclose(model.predict(8, series=series()[:160]).values()[:, 0], expected, rtol=1e-4, atol=1e-5)
