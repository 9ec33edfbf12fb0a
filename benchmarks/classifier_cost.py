"""Training cost of S4Classifier: seconds per epoch of a classification config, from timed steps.

    python -m benchmarks.classifier_cost [--config configs/benchmarks/classifier_cost.yaml] [--stem NAME]

Times ``steps`` optimiser steps (forward, cross-entropy, backward, AdamW step) on real batches of the
task, after ``warmup`` untimed ones, on ``threads`` torch threads, and scales to one epoch of the
training split. A run may override its config's ``task`` and ``model`` keys (e.g. ``mode: diag``) and set
``precision`` as Lightning's Trainer takes it (``bf16-mixed``: the forward under torch's bfloat16 autocast,
as that Trainer runs it on a CPU); with ``limit_heap_growth: true`` under glibc's mmap threshold, as ``s4forecast classify``
runs. Each row records the allocator serving malloc (``LD_PRELOAD`` a tcmalloc or jemalloc library to change
it) and ``GLIBC_TUNABLES`` (e.g. ``glibc.malloc.hugetlb=1``), both read at process start: set them in the
environment; with the timed steps' share of system CPU time and the peak resident memory.
Uses only S4Classifier's and ClassificationData's public API, so the same script times an older checkout.
Writes benchmarks/results/<stem>.csv and .md.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import pandas as pd
import torch
import torch.nn.functional as F

from benchmarks.common import ROOT, load_config, write_results
from s4forecast.classification.allocator import limit_heap_growth, malloc_library
from s4forecast.classification.data import ClassificationData
from s4forecast.classification.job import load_config as load_classify_config
from s4forecast.classification.model import S4Classifier


def seconds_per_step(run: dict, warmup: int, steps: int, device: str = "cpu") -> tuple[float, int, float]:
    """Mean seconds of a timed step, the batches of an epoch, and the timed steps' system share of CPU time."""
    cfg = load_classify_config(ROOT / run["config"])
    cfg["task"] = {**cfg["task"], **run.get("task", {})}  # e.g. fewer generated sequences: only steps are timed
    cfg["model"] = {**cfg["model"], **run.get("model", {})}
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=run.get("precision", "32-true") == "bf16-mixed")
    torch.manual_seed(0)
    data = ClassificationData(cfg["task"], cfg["batch_size"])
    model = S4Classifier(**data.dims, **cfg["model"]).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batches = iter(data.train_dataloader())
    times, start_usage = [], None
    for i in range(warmup + steps):
        if i == warmup:
            start_usage = resource.getrusage(resource.RUSAGE_SELF)
        x, y, *lengths = (t.to(device) for t in next(batches))
        if device != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with autocast:
            loss = F.cross_entropy(model(x, *lengths), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if device != "cpu":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    end = resource.getrusage(resource.RUSAGE_SELF)
    user, system = end.ru_utime - start_usage.ru_utime, end.ru_stime - start_usage.ru_stime
    return sum(times) / len(times), len(data.train_dataloader()), system / (user + system)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs/benchmarks/classifier_cost.yaml"))
    parser.add_argument("--stem", default="classifier_cost")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    torch.set_num_threads(cfg["threads"])
    heap_limited = cfg.get("limit_heap_growth", False) and limit_heap_growth()
    rows = []
    for run in cfg["runs"]:
        step_s, n_batches, system_share = seconds_per_step(run, cfg["warmup"], cfg["steps"], cfg.get("device", "cpu"))
        rows.append(
            {
                "config": run["config"],
                "task overrides": ", ".join(f"{k}={v}" for k, v in run.get("task", {}).items()),
                "model overrides": ", ".join(f"{k}={v}" for k, v in run.get("model", {}).items()),
                "precision": run.get("precision", "32-true"),
                "s_per_step": step_s,
                "batches_per_epoch": n_batches,
                "train_s_per_epoch": step_s * n_batches,
                "heap_limited": heap_limited,
                "malloc": malloc_library(),
                "GLIBC_TUNABLES": os.environ.get("GLIBC_TUNABLES", ""),
                "system_cpu_share": round(system_share, 3),
                "max_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),  # KiB on Linux
            }
        )
        print(rows[-1], flush=True)
    write_results(
        args.stem,
        pd.DataFrame(rows),
        f"S4Classifier training cost, {cfg['threads']} torch thread(s)",
        f"python -m benchmarks.classifier_cost --config {args.config}",
        notes=f"Mean of {cfg['steps']} timed optimiser steps after {cfg['warmup']} untimed ones, times the "
        "batches of one training epoch.\n",
    )


if __name__ == "__main__":
    main()
