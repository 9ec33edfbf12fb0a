"""S4Model exported to ONNX (Darts' ``to_onnx``, kernels as constants) forecasts with onnxruntime alone as
``predict`` does, per step (FFT convolution) and over patches (Toeplitz product), in every layout."""

from __future__ import annotations

import numpy as np
import pytest
from darts.utils import timeseries_generation as tg

from s4forecast import S4Model
from s4forecast.trainers import quiet_trainer

pytest.importorskip("onnxruntime", reason="the ONNX export needs the onnx extra: pip install 's4forecast[onnx]'")
pytest.importorskip("onnxscript", reason="the ONNX export needs the onnx extra: pip install 's4forecast[onnx]'")

TRAINER = quiet_trainer()


@pytest.mark.parametrize(
    "icl, options",
    [
        (48, {"patch_len": 1}),  # 56 positions: FFT convolution
        (48, {"patch_len": 8}),  # 7 positions: Toeplitz product
        (48, {"patch_len": 8, "layout": "lookback"}),
        (48, {"patch_len": 8, "layout": "closed_loop"}),
        (48, {"patch_len": 1, "layout": "closed_loop", "mode": "diag", "init": "diag-lin", "discretization": "zoh"}),
        (48, {"patch_len": 1, "mode": "diag", "init": "diag-lin", "discretization": "zoh"}),
    ],
)
def test_onnxruntime_forecast_equals_predict(tmp_path, icl, options):
    import onnxruntime as ort
    from darts.utils.onnx import run_onnx_prediction

    series = (tg.sine_timeseries(length=240, value_frequency=0.03) + tg.linear_timeseries(length=240)).astype(np.float32)
    model = S4Model(icl, 8, d_model=16, n_layers=2, d_state=16, n_epochs=1, random_state=0, pl_trainer_kwargs=TRAINER, **options)
    model.fit(series)
    path = str(tmp_path / "model.onnx")
    model.to_onnx(path)
    onnx_forecast = run_onnx_prediction(n=8, session=ort.InferenceSession(path), series=series)
    np.testing.assert_allclose(onnx_forecast.values(), model.predict(8, series=series).values(), rtol=1e-5, atol=1e-5)
    assert all(layer._frozen_kernel is None for layer in model.model.encoder.blocks.modules() if hasattr(layer, "_frozen_kernel"))
    assert getattr(getattr(model.model, "decoder", None), "_frozen_map", None) is None


def test_export_before_fit_is_refused(tmp_path):
    with pytest.raises(ValueError, match="fit"):
        S4Model(24, 8).to_onnx(str(tmp_path / "m.onnx"))
