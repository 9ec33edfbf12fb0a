"""Seconds of the S4 layer's convolution, forward + backward, by FFT and as a Toeplitz product
(:mod:`s4forecast.nn.conv`), over sequence lengths: where the direct product stops paying sets
``DIRECT_MAX_LEN``.

    python -m benchmarks.conv_crossover [--config configs/benchmarks/conv_crossover.yaml]

Writes benchmarks/results/conv_crossover.csv and .md (median milliseconds per call, ratio direct / FFT).
"""

from __future__ import annotations

import argparse
import statistics

import pandas as pd
import torch

from benchmarks.common import ROOT, load_config, timings, write_results
from s4forecast.nn.conv import DIRECT_MAX_LEN, direct_conv, fft_conv

CONVS = {"fft": fft_conv, "direct": direct_conv}


def milliseconds(convolve, B: int, H: int, L: int, repeats: int) -> float:
    """Median ms of one forward + backward of ``convolve`` on u (B, H, L), k (H, L)."""
    u = torch.randn(B, H, L, requires_grad=True)
    k = torch.randn(H, L, requires_grad=True)
    grad = torch.randn(B, H, L)

    def step():
        torch.autograd.grad(convolve(u, k), (u, k), grad)

    return 1e3 * statistics.median(timings(step, repeats))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs/benchmarks/conv_crossover.yaml"))
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    rows = []
    for B, H in cfg["shapes"]:
        for L in cfg["lengths"]:
            ms = {name: milliseconds(f, B, H, L, cfg["repeats"]) for name, f in CONVS.items()}
            rows.append({"B": B, "H": H, "L": L, "fft_ms": ms["fft"], "direct_ms": ms["direct"]})
    df = pd.DataFrame(rows)
    df["direct_vs_fft"] = df.direct_ms / df.fft_ms
    write_results(
        "conv_crossover",
        df,
        f"S4 convolution, FFT vs Toeplitz product, forward + backward, {cfg['threads']} thread(s)",
        f"python -m benchmarks.conv_crossover --config {args.config}",
        notes=f"Median of {cfg['repeats']} calls. `conv` takes the direct product up to L = {DIRECT_MAX_LEN}.\n",
    )


if __name__ == "__main__":
    main()
