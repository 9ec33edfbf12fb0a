"""Two CPU processes under Lightning's DDP (gloo): S4Model trained, then forecasting in each process on its
own (forecasting/distributed.py) and loaded in a third process from what rank 0 saved; the classify command
on a padded task, whose length batches each process splits itself (classification/batching.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import torch
import yaml
from darts.utils import timeseries_generation as tg

from s4forecast import S4Model

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from darts.utils import timeseries_generation as tg
    from s4forecast import S4Model
    from s4forecast.trainers import quiet_trainer

    out = sys.argv[1]
    series = tg.sine_timeseries(length=200, value_frequency=0.05).astype(np.float32)
    trainer = quiet_trainer(accelerator="cpu", strategy="ddp", devices=2)
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


def test_classify_on_two_processes(tmp_path):
    cfg = {
        "name": "tiny-ddp",
        "seed": 0,
        "task": {"name": "listops", "n_train": 64, "n_val": 32, "n_test": 32, "min_length": 20, "max_length": 60, "d_embed": 8},
        "batch_size": 16,
        "model": {"d_model": 8, "n_layers": 1, "d_state": 8, "pooling": "length-mean"},
        "output_dir": str(tmp_path / "runs"),
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "strategy": "ddp", "devices": 2},
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    run = subprocess.run(
        [sys.executable, "-m", "s4forecast", "classify", "--config", "tiny.yaml", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("test accuracy") == 1  # one process reports
    result = json.loads((tmp_path / "runs" / "tiny-ddp" / "result.json").read_text())
    assert 0 <= result["test_acc"] <= 1 and result["epochs"] == 1
    # 64 training sequences make 4 length batches of 16: each process trains on 2 of them, so 2 steps an epoch
    last = torch.load(tmp_path / "runs" / "tiny-ddp" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 2
