"""benchmarks/classification/device_runs.py reports each side-by-side run's outcome, also the ones that
fail or outlive the time limit (no GPU needed: the runs here end before any training)."""

import pandas as pd
import yaml

import benchmarks.common
from benchmarks.classification import device_runs

CLASSIFY = device_runs.ROOT / "configs" / "classify"


def _config(path, **keys):
    path.write_text(yaml.safe_dump(keys))
    return str(path)


def test_a_failed_and_a_stopped_run_are_rows_with_their_status(tmp_path, monkeypatch):
    monkeypatch.setattr(benchmarks.common, "ROOT", tmp_path)  # results under tmp_path/benchmarks/results
    bad = _config(tmp_path / "bad.yaml", base=str(CLASSIFY / "listops.yaml"), name="bad", task={"colour": "red"})
    slow = _config(tmp_path / "slow.yaml", base=str(CLASSIFY / "listops.yaml"), name="slow", task={"n_train": 10**6})
    runs = _config(tmp_path / "runs.yaml", threads=1, timeout_s=25, output_dir=str(tmp_path / "out"), runs=[bad, slow])

    assert device_runs.main(["--config", runs, "--stem", "runs", "--collect", str(tmp_path / "collected")]) == 1

    table = pd.read_csv(tmp_path / "benchmarks" / "results" / "runs.csv")
    assert table.status.tolist() == ["failed (exit 2)", "timed out after 25 s"]
    assert table.test_acc.isna().all()
    assert "colour" in (tmp_path / "out" / "bad.log").read_text()  # the failing run's own error, in its log
    collected = sorted(p.name for p in (tmp_path / "collected").iterdir())
    assert collected == ["runs.csv", "runs.md", "runs_epochs.csv", "runs_logs.txt"]
    assert "colour" in (tmp_path / "collected" / "runs_logs.txt").read_text()


def test_the_shipped_device_runs_name_shipped_configs():
    cfg = yaml.safe_load((device_runs.ROOT / "configs" / "benchmarks" / "device_lra.yaml").read_text())
    names = [device_runs.load_run_config(device_runs.ROOT / path)["name"] for path in cfg["runs"]]
    assert len(set(names)) == len(names)  # each run its own checkpoint folder
