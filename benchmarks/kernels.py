"""Time and peak memory of the Cauchy backends vs the naive broadcast (issue: S4 core).

With ``K > 1`` (configs/benchmarks/kernels_shared.yaml) it times the S4 kernel's case, the K = R^2
Woodbury sums of :func:`cauchy_products`; a backend named ``keops:unfused`` forms the K product
vectors first and runs :func:`cauchy_shared`, the path that cauchy_products replaced.

    python -m benchmarks.kernels [--config configs/benchmarks/kernels.yaml]

Each case runs in its own process so its peak resident memory (minus the inputs) is its own.
Writes benchmarks/results/kernels.csv and kernels.md.
"""

from __future__ import annotations

import argparse
import json
import math

import pandas as pd
import torch

from benchmarks.common import ROOT, load_config, measure, run_isolated, write_results


def single(case: dict) -> dict:
    from s4forecast.ssm.cauchy import cauchy, cauchy_products, cauchy_shared

    torch.set_num_threads(case["threads"])
    torch.manual_seed(0)
    dtype = getattr(torch, case["dtype"])
    H, N2, L, K = case["H"], case["N"] // 2, case["L"], case.get("K", 1)
    R = math.isqrt(K)  # K = R^2 sums: the products of R left and R right vectors (S4: R = r + 1)
    backend, _, variant = case["backend"].partition(":")
    w = torch.complex(-torch.rand(H, N2), torch.randn(H, N2)).to(dtype).requires_grad_()
    z = torch.exp(-2j * torch.pi * torch.arange(L // 2 + 1) / L).to(dtype)
    if K > 1:
        left, right = (torch.randn(R, H, N2, dtype=dtype, requires_grad=True) for _ in range(2))
        inputs = [left, right, w]
    else:
        v = torch.randn(H, N2, dtype=dtype, requires_grad=True)
        inputs = [v, w]

    def evaluate():
        if K == 1:
            return cauchy(v, z, w, backend=backend, conj=True)
        if variant == "unfused":  # form the K product vectors, then K sums (the path before cauchy_products)
            return cauchy_shared((left[:, None] * right[None]).reshape(K, H, N2), z, w, backend=backend, conj=True)
        return cauchy_products(left, right, z, w, backend=backend, conj=True)

    def run():
        out = evaluate()
        if case["pass"] == "forward+backward":
            torch.autograd.grad(out.real.sum() + out.imag.sum(), inputs)

    times, peak_mib = measure(run, case["repeats"])  # the warm-up call (keops compiles there) is not counted
    return {"time_ms": 1e3 * min(times), "peak_mib": peak_mib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs/benchmarks/kernels.yaml"))
    parser.add_argument("--single", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        print(json.dumps(single(json.loads(args.single))))
        return
    cfg = load_config(args.config)
    rows = []
    for L in cfg["lengths"]:
        for p in cfg["passes"]:
            for backend in cfg["backends"]:
                case = {
                    "H": cfg["H"],
                    "N": cfg["N"],
                    "L": L,
                    "pass": p,
                    "backend": backend,
                    "repeats": cfg["repeats"],
                    "dtype": cfg["dtype"],
                    "K": cfg.get("K", 1),
                    "threads": cfg["threads"],
                }
                res = run_isolated("benchmarks.kernels", case)
                rows.append({**{k: case[k] for k in ("backend", "L", "pass")}, **res})
                print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    naive = df[df.backend == "naive"].set_index(["L", "pass"])
    df["time_vs_naive"] = [
        r.time_ms / naive.loc[(r.L, r["pass"]), "time_ms"] if "time_ms" in r and (r.L, r["pass"]) in naive.index else float("nan")
        for _, r in df.iterrows()
    ]
    df["memory_vs_naive"] = [
        r.peak_mib / naive.loc[(r.L, r["pass"]), "peak_mib"] if (r.L, r["pass"]) in naive.index else float("nan")
        for _, r in df.iterrows()
    ]
    write_results(
        cfg.get("name", "kernels"),
        df,
        f"Cauchy backends: K={cfg.get('K', 1)} sums over shared poles, H={cfg['H']}, "
        f"N={cfg['N']} (N/2 conjugate pairs), {cfg['dtype']}",
        f"python -m benchmarks.kernels --config {args.config}",
    )


if __name__ == "__main__":
    main()
