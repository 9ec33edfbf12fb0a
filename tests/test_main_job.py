"""The README's main job (s4forecast forecast) end to end with a tiny budget on real ETTh1."""

import json
from pathlib import Path

import yaml

from s4forecast.cli import main


def test_forecast_job_writes_metrics_and_plot(data_dir, tmp_path):
    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs/forecast/etth1.yaml").read_text())
    cfg["lookback"], cfg["horizon"] = 48, 24
    cfg["model"] |= {"d_model": 8, "n_layers": 1, "d_state": 8, "n_epochs": 1}
    cfg["trainer"] = {"limit_train_batches": 3, "limit_val_batches": 2, "enable_progress_bar": False}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    main(["forecast", "--config", str(path), "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "out")])
    metrics = json.loads((tmp_path / "out" / "ETTh1_metrics.json").read_text())
    assert metrics["test_windows"] == 2880 - 24 + 1 and 0 < metrics["mse"] < 5 and 0 < metrics["mae"] < 5
    assert (tmp_path / "out" / "ETTh1_forecast.png").stat().st_size > 10_000
