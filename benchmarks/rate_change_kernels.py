"""How well a model's SSM kernels carry over to another sampling rate: the evidence behind
benchmarks/results/rate_change.md.

    python -m benchmarks.rate_change_kernels   (after python -m benchmarks.rate_change, whose models it reads)

For each per-step model of the rate-change benchmark and its pair's rate r, every layer's kernel at
the training rate, K(j) for j steps, against the kernel at rate r divided by r (a discrete kernel
scales with Δ: K̄_j ≈ Δ K(t_j)), compared at the times both grids sample. A kernel that varies slowly
over one step of the coarser grid agrees (relative error near 0); one with modes faster than that
cannot be represented at the coarser rate, and the resampled model differs from the trained one.
Writes benchmarks/results/rate_change_kernels.{csv,md} and rate_change_kernels.png.
"""

from __future__ import annotations

import argparse

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from benchmarks.common import ROOT, load_config, write_results
from benchmarks.rate_change import RUNS, steps
from s4forecast import S4Model


def compared(layer, n_steps: int, rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times in training steps, K at the training rate, K at ``rate`` / rate), (H, T) each, at the
    times both grids sample within ``n_steps`` training steps."""
    with torch.no_grad():
        k_train = layer.conv_kernel(n_steps, 1.0).double().numpy()
        k_rate = layer.conv_kernel(round(n_steps / rate), rate).double().numpy() / rate
    if rate < 1:  # finer grid: every 1/rate-th sample of it is a training step
        return np.arange(n_steps), k_train, k_rate[:, :: round(1 / rate)]
    every = round(rate)  # coarser grid: every rate-th training step is one of its samples
    return np.arange(0, n_steps, every), k_train[:, ::every][:, : k_rate.shape[1]], k_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs/benchmarks/rate_change.yaml"))
    args = parser.parse_args()
    cfg = load_config(args.config)
    views, rows = cfg["views"], []
    pairs = [(s, t) for s, t in cfg["pairs"] if (RUNS / f"{s}-step.pt").exists()]
    for source, _ in cfg["pairs"]:
        if (source, _) not in pairs:
            print(f"{RUNS / f'{source}-step.pt'} missing: run python -m benchmarks.rate_change first")
    fig, axes = plt.subplots(len(pairs), 1, figsize=(9, 3 * len(pairs)), squeeze=False)
    for ax, (source, target) in zip(axes[:, 0], pairs):
        src, dst = views[source], views[target]
        rate = dst["minutes"] / src["minutes"]
        model = S4Model.load(str(RUNS / f"{source}-step.pt"))
        n_steps = steps(cfg["context_hours"], src)
        for i, block in enumerate(model.model.encoder.blocks):
            t, k_train, k_rate = compared(block.layer, n_steps, rate)
            err = np.linalg.norm(k_rate - k_train, axis=1) / np.linalg.norm(k_train, axis=1)
            rows.append(
                {
                    "model": f"{source} per step",
                    "rate": rate,
                    "layer": i,
                    "median_rel_err": float(np.median(err)),
                    "p90_rel_err": float(np.quantile(err, 0.9)),
                    "max_rel_err": float(err.max()),
                }
            )
            if i == 0:
                hours = t * src["minutes"] / 60
                for c, color in zip(np.argsort(err)[[0, len(err) // 2, -1]], ("C0", "C1", "C3")):
                    ax.plot(hours, k_train[c], color=color, label=f"channel {c}: rate 1 (rel. err {err[c]:.2f})")
                    ax.plot(hours, k_rate[c], color=color, ls="--", label=f"channel {c}: rate {rate:g}, / {rate:g}")
                ax.set(title=f"{source} model, layer 0: kernels at its rate and at {target}'s", xlabel="hours")
                ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(ROOT / "benchmarks" / "results" / "rate_change_kernels.png", dpi=100)
    write_results(
        "rate_change_kernels",
        pd.DataFrame(rows),
        "SSM kernels at the training rate vs at the pair's rate (/ rate), per layer over its channels",
        "python -m benchmarks.rate_change_kernels",
        notes="Channels with the best, median and worst agreement of layer 0 are plotted in rate_change_kernels.png.\n",
        floatfmt=".3f",
    )


if __name__ == "__main__":
    main()
