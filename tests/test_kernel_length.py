"""NPLR weights carry the length their C̃ = C (I - Ā^l_max) was stored for (S4 Sec. 3.3): loaded into a
system or model of another ``l_max`` they are converted, so the loaded kernel is the saved one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from darts.utils import timeseries_generation as tg

from s4forecast import S4Model
from s4forecast.ssm.systems import NPLRSSM
from s4forecast.trainers import quiet_trainer

TRAINER = quiet_trainer()


@pytest.mark.parametrize("saved_for, loaded_into", [(64, 128), (128, 48), (64, None), (None, 96)])
def test_weights_loaded_at_another_l_max_give_the_same_kernel(saved_for, loaded_into):
    torch.manual_seed(0)
    saved = NPLRSSM(4, 16, l_max=saved_for, init="legs", dt_min=1e-2, dt_max=0.5)
    torch.manual_seed(1)  # other weights, overwritten by the load
    loaded = NPLRSSM(4, 16, l_max=loaded_into, init="legs", dt_min=1e-2, dt_max=0.5)
    loaded.load_state_dict(saved.state_dict())
    with torch.no_grad():
        expected, got = saved.conv_kernel(100), loaded.conv_kernel(100)
    assert int(loaded.kernel_length) == (loaded_into or 0) and loaded.l_max == loaded_into
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5 * float(expected.abs().max()))


def test_weights_saved_before_the_length_was_stored_load_as_before():
    torch.manual_seed(0)
    saved = NPLRSSM(4, 16, l_max=64)
    state = {k: v for k, v in saved.state_dict().items() if k != "kernel_length"}
    loaded = NPLRSSM(4, 16, l_max=64)
    loaded.load_state_dict(state)
    torch.testing.assert_close(loaded.C_tilde, saved.C_tilde, rtol=0, atol=0)


def test_a_fresh_model_of_a_resampled_models_lengths_loads_its_weights(tmp_path):
    """The issue's case: a resampled model keeps the l_max it was trained with; a fresh S4Model of its new
    lengths and rate builds its kernels for another, and loading the saved weights must convert them."""
    series = tg.sine_timeseries(length=240, value_frequency=0.02).astype(np.float32)
    options = dict(d_model=8, n_layers=1, d_state=8, patch_len=1, linear_skip=False, random_state=0, pl_trainer_kwargs=TRAINER)
    model = S4Model(24, 8, n_epochs=1, **options).fit(series)
    fine = model.with_rate(0.5)
    fine.save(str(tmp_path / "fine.pt"))
    fresh = S4Model(fine.input_chunk_length, fine.output_chunk_length, rate=fine.rate, **options)
    assert fresh.input_chunk_length == 48
    fresh.load_weights(str(tmp_path / "fine.pt"))
    assert fresh.model.l_max != fine.model.l_max  # the case: kernels stored for another length
    np.testing.assert_allclose(
        fresh.predict(16, series=series).values(), fine.predict(16, series=series).values(), rtol=1e-4, atol=1e-5
    )
