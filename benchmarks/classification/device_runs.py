"""Several classification runs at once, one process each, on one machine (a lent GPU):

    python -m benchmarks.classification.device_runs [--config configs/benchmarks/device_lra.yaml]

Each run is ``s4forecast classify --config C`` (checkpoints and logs under the config's
``output_dir``, a log per run beside them); small models leave a GPU mostly idle, so running them side
by side costs little more wall time than the slowest alone. A run that outlives ``timeout_s`` is stopped
and reported so, with the val accuracy it had logged. Writes benchmarks/results/<stem>.{csv,md}: per
run its status, test accuracy, size, epochs, wall time and val accuracy per epoch, and
<stem>_epochs.csv: per run and epoch its train and val accuracy and loss. ``--collect DIR`` copies those
and the runs' logs (one file) to DIR, e.g. a device call's $OUT.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from benchmarks.classification.listops_diagnosis import epoch_curve
from benchmarks.common import ROOT, load_config, results_dir, write_results
from s4forecast.classification.job import load_config as load_run_config
from s4forecast.classification.job import val_curve


def launch(config: str, output_dir: Path, threads: int) -> tuple[str, subprocess.Popen, Path]:
    """Start one classify run in the background; (its name, its process, its log file)."""
    name = load_run_config(ROOT / config)["name"]
    output_dir.mkdir(parents=True, exist_ok=True)
    log = output_dir / f"{name}.log"
    command = [sys.executable, "-m", "s4forecast", "classify", "--config", config, "--quiet"]
    command += ["--output-dir", str(output_dir), "--threads", str(threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    return name, process, log


def row(config: str, name: str, status: str, output_dir: Path) -> dict:
    """One results row: a finished run's result.json; of a stopped one, the val accuracy it logged."""
    result = output_dir / name / "result.json"
    summary = json.loads(result.read_text()) if status == "ok" and result.exists() else {}
    curve = val_curve(output_dir / name)
    return {
        "config": config,
        "status": status,
        "test_acc": summary.get("test_acc"),
        "params": summary.get("params"),
        "epochs": summary.get("epochs"),
        "wall_time_s": summary.get("wall_time_s"),
        "val_acc_per_epoch": " ".join(f"{v:.4f}" for v in curve),
    }


def epochs(runs: list, output_dir: Path) -> pd.DataFrame:
    """Per run and epoch, train / val accuracy and loss from each run's logs (empty for a run that logged none)."""
    curves = [
        epoch_curve(output_dir / name).assign(config=config)
        for config, name, _, _ in runs
        if any((output_dir / name).glob("lightning_logs/version_*/metrics.csv"))
    ]
    return pd.concat(curves) if curves else pd.DataFrame(columns=["config", "epoch"])


def collect(stem: str, runs: list, into: Path) -> None:
    """The results files and one file of every run's log, flat in ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    for suffix in (".csv", ".md", "_epochs.csv"):
        shutil.copy(results_dir() / f"{stem}{suffix}", into)
    logs = "".join(f"===== {log.name}\n{log.read_text()}\n" for _, _, _, log in runs)
    (into / f"{stem}_logs.txt").write_text(logs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/benchmarks/device_lra.yaml")
    parser.add_argument("--stem", default="device_lra", help="results file name under benchmarks/results/")
    parser.add_argument("--collect", type=Path, help="copy the results and the runs' logs to this folder")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    output_dir = ROOT / cfg["output_dir"]
    runs = [(config, *launch(config, output_dir, cfg["threads"])) for config in cfg["runs"]]
    deadline = time.monotonic() + cfg["timeout_s"]
    statuses = {}
    for _, name, process, log in runs:
        try:
            code = process.wait(timeout=max(deadline - time.monotonic(), 1))
            statuses[name] = "ok" if code == 0 else f"failed (exit {code})"
        except subprocess.TimeoutExpired:
            process.kill()
            statuses[name] = f"timed out after {cfg['timeout_s']} s"
        if statuses[name] != "ok":
            print(f"--- {name}: {statuses[name]}; the end of {log}:", *log.read_text().splitlines()[-30:], sep="\n")
    table = pd.DataFrame([row(config, name, statuses[name], output_dir) for config, name, _, _ in runs])
    table = table.astype({"params": "Int64", "epochs": "Int64"})  # whole numbers, also beside a stopped run
    command = f"python -m benchmarks.classification.device_runs --config {args.config}"
    write_results(
        args.stem,
        table,
        "Classification runs side by side on one machine",
        command,
        notes=f"{cfg['threads']} torch CPU threads a run; test accuracy from each run's best val epoch.\n",
        floatfmt=".4f",
    )
    epochs(runs, output_dir).to_csv(results_dir() / f"{args.stem}_epochs.csv", index=False)
    if args.collect:
        collect(args.stem, runs, args.collect)
    return 0 if all(s == "ok" for s in statuses.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
