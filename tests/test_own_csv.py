"""A user's own series end to end (issue 49's held-out procedure): ``s4forecast sweep --csv`` runs the
sweep config's space and budget on a CSV, ``sweep-report`` writes its best trial as a forecast config, and
``s4forecast forecast --config best.yaml`` (or ``forecast --csv``) trains and tests it on the same CSV."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from s4forecast.cli import main
from s4forecast.config_files import default_config


@pytest.fixture(scope="module")
def sales_csv(tmp_path_factory):
    """400 hourly rows: a daily cycle on a trend with noise (``units``), a covariate and a text column."""
    rng = np.random.default_rng(0)
    t = np.arange(400)
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=400, freq="h").astype(str),
            "units": np.sin(2 * np.pi * t / 24) + 0.002 * t + 0.1 * rng.normal(size=400),
            "price": 1 + 0.1 * rng.normal(size=400),
            "store": "north",
        }
    )
    path = tmp_path_factory.mktemp("own") / "sales.csv"
    frame.to_csv(path, index=False)
    return path


def run_cli(*argv):
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    return exit_info.value.code


def test_sweep_report_and_forecast_on_a_csv(sales_csv, tmp_path):
    url = f"sqlite:///{tmp_path / 'own.db'}"
    csv = ["--csv", str(sales_csv), "--target", "units", "--time-col", "timestamp"]
    main(["sweep", "--config", str(default_config("sweep/smoke.yaml")), *csv, "--n-trials", "2", "--storage", url, "--quiet"])
    main(["sweep-report", "--study", "s4-sales-S-8", "--storage", url, "--out", str(tmp_path / "report")])
    best = yaml.safe_load((tmp_path / "report" / "best.yaml").read_text())
    assert best["data"] == {
        "source": "csv",
        "path": str(sales_csv),
        "target": "units",
        "features": "S",
        "date_col": "timestamp",
        "split": "ratio",
    }
    main(["forecast", "--config", str(tmp_path / "report" / "best.yaml"), "--output-dir", str(tmp_path / "out"), "--quiet"])
    metrics = json.loads((tmp_path / "out" / "sales_metrics.json").read_text())
    # 70/10/20 split of 400 rows: 80 test rows after the lookback lead-in, one window per start
    assert metrics["dataset"] == "sales" and metrics["test_windows"] == 80 - 8 + 1
    assert 0 < metrics["mse"] < 2  # scaled values: a model that learnt nothing of the cycle scores ~1
    assert (tmp_path / "out" / "sales_forecast.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--csv", "{csv}"], "--csv needs --target"),
        (["--target", "units"], "--target describes a CSV: give it with --csv"),
        (
            ["--csv", "{csv}", "--target", "sold", "--time-col", "timestamp"],
            "columns ['sold'] not in the data; its columns: units, price, store",
        ),
        (["--csv", "{csv}", "--target", "store", "--time-col", "timestamp"], "columns ['store'] are not numeric"),
        (
            ["--csv", "{csv}", "--target", "units"],
            "the CSV has no date column 'date'; its columns: timestamp, units, price, store",
        ),
        (["--csv", "{missing}", "--target", "units"], "no CSV file"),
    ],
)
def test_bad_csv_arguments_are_one_line_errors(sales_csv, tmp_path, capsys, argv, message):
    argv = [a.format(csv=sales_csv, missing=tmp_path / "absent.csv") for a in argv]
    assert run_cli("forecast", *argv, "--output-dir", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
