"""Why a classification task does not leave the majority class (first asked of ListOps): a tiny-subset
overfit, the learning rate and the pooling, as variants of one classify config.

    python -m benchmarks.classification.listops_diagnosis [--config configs/benchmarks/listops_diagnosis.yaml] [--only NAME ...]

Each variant of the config is a classify config (its ``base`` deep-merged with ``common`` and the
variant) run by :func:`s4forecast.classification.job.classify` under ``runs/listops_diagnosis/<variant>/``
(resumable: a re-run continues from the last checkpoint). Writes
benchmarks/results/listops_diagnosis.{csv,md}: per variant and epoch the train and val accuracy,
next to the majority-class share of the val split.
"""

from __future__ import annotations

import argparse
import functools
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import yaml

from benchmarks.common import ROOT, load_config, write_results
from s4forecast.classification.data import build_datasets
from s4forecast.classification.job import classify
from s4forecast.classification.job import load_config as load_classify_config
from s4forecast.config_files import merge

RUNS = ROOT / "runs" / "listops_diagnosis"


def variant_config(cfg: dict, name: str) -> dict:
    base = load_classify_config(ROOT / cfg["base"])
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return merge(base, cfg["common"], cfg["variants"][name], {"name": slug})


def epoch_curve(run_dir: Path) -> pd.DataFrame:
    """Per epoch train_acc / val_acc from the run's CSVLogger files (all versions, oldest first: a resumed
    run appends a version, and an epoch it re-ran keeps its latest values)."""
    files = sorted(run_dir.glob("lightning_logs/version_*/metrics.csv"), key=lambda f: int(f.parent.name.split("_")[1]))
    df = pd.concat(pd.read_csv(f) for f in files)
    cols = [c for c in ("train_acc", "val_acc", "train_loss_epoch", "val_loss") if c in df.columns]
    return df.groupby("epoch")[cols].last().dropna(how="all").reset_index()  # the test pass logs an epoch of its own


@functools.cache
def majority_share(task_yaml: str) -> float:
    """Share of the most frequent label in the val split of a task (given as YAML: variants that share
    a task share its split, which is generated once)."""
    _, val, _, _ = build_datasets(yaml.safe_load(task_yaml))  # the run's own val split (cut from one draw)
    counts = Counter(int(val[i][1]) for i in range(len(val)))
    return max(counts.values()) / len(val)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs/benchmarks/listops_diagnosis.yaml"))
    parser.add_argument("--only", nargs="+", help="variant names to run")
    parser.add_argument("--stem", default="listops_diagnosis", help="results file name under benchmarks/results/")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    rows = []
    for name in cfg["variants"]:
        if args.only and name not in args.only:
            continue
        run_cfg = variant_config(cfg, name)
        config_path = RUNS / f"{run_cfg['name']}.yaml"  # kept beside the run: what it ran
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(yaml.safe_dump(run_cfg))
        result = classify(config_path, output_dir=RUNS, threads=cfg["threads"], progress=False)
        curve = epoch_curve(RUNS / run_cfg["name"]).assign(variant=name, test_acc=result["test_acc"])
        curve["val_majority"] = majority_share(yaml.safe_dump(run_cfg["task"], sort_keys=True))
        rows.append(curve)
        print(curve.to_string(index=False), flush=True)
    df = pd.concat(rows)[["variant", "epoch", "train_acc", "val_acc", "val_majority", "train_loss_epoch", "val_loss", "test_acc"]]
    write_results(
        args.stem,
        df,
        cfg.get("title", "ListOps diagnosis: overfit, learning rate, pooling (short generated expressions)"),
        f"python -m benchmarks.classification.listops_diagnosis --config {args.config} --stem {args.stem}",
        notes="train_acc / val_acc per epoch (val every epoch, or as the variant's trainer says); val_majority "
        "is the share of the most frequent label in the val split; ln(classes) is the loss of a uniform guess "
        "(ListOps ln 10 = 2.30, Pathfinder ln 2 = 0.69).\n",
    )


if __name__ == "__main__":
    main()
