"""S4Model trained on two CPU processes under Lightning's DDP (gloo), then forecasting in each process on
its own (forecasting/distributed.py), and loaded in a third process from what rank 0 saved."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
from darts.utils import timeseries_generation as tg

from s4forecast import S4Model

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from darts.utils import timeseries_generation as tg
    from s4forecast import S4Model

    out = sys.argv[1]
    series = tg.sine_timeseries(length=200, value_frequency=0.05).astype(np.float32)
    trainer = {"accelerator": "cpu", "strategy": "ddp", "devices": 2, "enable_progress_bar": False, "logger": False,
               "enable_model_summary": False, "enable_checkpointing": False}
    model = S4Model(24, 8, d_model=8, n_layers=1, d_state=8, n_epochs=2, batch_size=16, random_state=0,
                    pl_trainer_kwargs=trainer)
    model.fit(series)
    rank = model.trainer.global_rank
    np.savetxt(f"{out}/forecast_rank{rank}.txt", model.predict(8, series=series).values()[:, 0])
    if rank == 0:
        model.save(f"{out}/model.pt")
    """
)


def test_fit_on_two_processes_then_predict_on_each_and_after_loading(tmp_path):
    (tmp_path / "fit_ddp.py").write_text(SCRIPT)
    run = subprocess.run([sys.executable, "fit_ddp.py", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    rank0, rank1 = (np.loadtxt(tmp_path / f"forecast_rank{r}.txt") for r in (0, 1))
    np.testing.assert_array_equal(rank0, rank1)  # the same weights on both processes, the whole forecast on each
    series = tg.sine_timeseries(length=200, value_frequency=0.05).astype(np.float32)
    loaded = S4Model.load(str(tmp_path / "model.pt"))
    np.testing.assert_allclose(loaded.predict(8, series=series).values()[:, 0], rank0, rtol=1e-5, atol=1e-6)
