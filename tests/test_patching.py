"""S4Model over patches (patch_len > 1): layout, accuracy, and what it refuses."""

import numpy as np
import pytest
import torch
from darts.utils import timeseries_generation as tg

from s4forecast import S4Model
from s4forecast.trainers import quiet_trainer

TRAINER = quiet_trainer()


def fitted(icl, ocl, patch_len, shift=0, **kw):
    series = tg.sine_timeseries(length=300, value_frequency=0.05).astype(np.float32)
    params = dict(d_model=8, n_layers=1, d_state=8, n_epochs=1, batch_size=16, random_state=0, pl_trainer_kwargs=TRAINER)
    return S4Model(icl, ocl, output_chunk_shift=shift, patch_len=patch_len, **(params | kw)).fit(series), series


def test_tokens_are_padded_whole_patches_in_step_order():
    """Token j holds steps j*P - pad_front ... j*P - pad_front + P - 1 (zeros outside the sequence),
    checked against an explicit loop over steps."""
    m, _ = fitted(icl=10, ocl=5, patch_len=4, shift=2)
    module = m.model
    L = 10 + 2 + 5
    assert (module.pad_front, module.pad_back, module.n_tokens) == (2, 1, 5)  # 12 context + 8 masked steps
    x = torch.randn(3, L, 2)
    tokens = module.tokens(x)
    assert tokens.shape == (3, 5, 8)
    for j in range(5):
        for i in range(4):
            t = j * 4 + i - module.pad_front
            expected = x[:, t] if 0 <= t < L else torch.zeros(3, 2)
            torch.testing.assert_close(tokens[:, j, 2 * i : 2 * i + 2], expected)


def test_patched_model_with_shift_predicts_the_right_index():
    m, series = fitted(icl=13, ocl=6, patch_len=4, shift=3)
    pred = m.predict(6, series=series)
    assert len(pred) == 6 and pred.start_time() == series.end_time() + 4 * series.freq
    assert np.isfinite(pred.values()).all()


def test_patched_model_refuses_streaming_and_a_rate_only_change():
    m, series = fitted(icl=12, ocl=6, patch_len=3, linear_skip=False, subtract_last=False, use_reversible_instance_norm=False)
    with pytest.raises(ValueError, match="patch_len=1"):
        m.stream(series)
    with pytest.raises(ValueError, match="patch_len=1"):
        m.with_rate(0.5, resample=False)


@pytest.mark.parametrize("value", [0, -2, 2.5, True])
def test_invalid_patch_len(value):
    with pytest.raises(ValueError, match="patch_len"):
        S4Model(12, 6, patch_len=value)
