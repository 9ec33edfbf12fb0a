"""The checks that need a GPU, as one command (<= 8 minutes on one GPU):

    python -m benchmarks.device_check [--config configs/benchmarks/device_check.yaml]

1. the GPU tests (tests/test_gpu.py: the compiled Triton Cauchy kernel),
2. the Cauchy backends (triton / keops / torch) forward+backward at the paper's sizes, each backend in its
   own process (a crash is an error row),
3. benchmarks/training_cost.py at GPU sizes (configs/benchmarks/training_cost_gpu.yaml),
4. S4Classifier steps per second on LRA ListOps (configs/benchmarks/classifier_cost_gpu.yaml).

Each step runs in its own process under its own time limit; results go to benchmarks/results/
(device_cauchy.*, training_cost_gpu.*, classifier_cost_gpu.*, device_check.md with each step's status).
Without a CUDA device it says so and exits with status 1, measuring nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import pandas as pd
import torch

from benchmarks.common import ROOT, load_config, metadata, write_results

CASE_PREFIX = "cauchy case: "  # marks a backend process's result lines among its other output


def cauchy_case(case: dict) -> dict:
    """Milliseconds of one forward+backward of the S4 kernel's Woodbury Cauchy sums on the GPU."""
    from s4forecast.ssm.cauchy import cauchy_products

    torch.manual_seed(0)
    H, N2, L = case["H"], case["N"] // 2, case["L"]
    w = torch.complex(-torch.rand(H, N2), torch.randn(H, N2)).cuda().requires_grad_()
    left = torch.randn(2, H, N2, dtype=torch.complex64, device="cuda", requires_grad=True)
    right = torch.randn(2, H, N2, dtype=torch.complex64, device="cuda", requires_grad=True)
    z = torch.exp(-2j * torch.pi * torch.arange(L // 2 + 1) / L).to(torch.complex64).cuda()

    def once():
        out = cauchy_products(left, right, z, w, backend=case["backend"], conj=True)
        out.abs().sum().backward()

    once()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(case["repeats"]):
        once()
    torch.cuda.synchronize()
    return {
        **case,
        "ms": 1e3 * (time.perf_counter() - start) / case["repeats"],
        "peak_MiB": torch.cuda.max_memory_allocated() / 2**20,
    }


def backend_cases(spec: dict, backend: str) -> None:
    """Every length of one backend, in this process; one JSON line per case on stdout."""
    for L in spec["lengths"]:
        case = {"H": spec["H"], "N": spec["N"], "L": L, "backend": backend, "repeats": spec["repeats"]}
        try:
            row = cauchy_case(case)
        except Exception as e:  # noqa: BLE001 - a backend that cannot run here is a row, not a crash
            row = {**case, "error": f"{type(e).__name__}: {e}"[:200]}
        print(CASE_PREFIX + json.dumps(row), flush=True)


def cauchy(spec: dict, stem: str = "device_cauchy") -> None:
    """Each backend in its own process: one that takes the interpreter down (a segfault in a JIT-built
    extension) becomes error rows for its lengths instead of ending the step. Writes benchmarks/results/<stem>.*"""
    rows = []
    for backend in spec["backends"]:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.device_check", "--cauchy-spec", json.dumps(spec), "--cauchy-backend", backend],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        done = [json.loads(line[len(CASE_PREFIX) :]) for line in out.stdout.splitlines() if line.startswith(CASE_PREFIX)]
        last = (out.stdout + out.stderr).strip().splitlines()[-1:] or [""]
        lost = [
            {"H": spec["H"], "N": spec["N"], "L": L, "backend": backend, "repeats": spec["repeats"],
             "error": f"process died (exit {out.returncode}) after: {last[0]}"[:200]}
            for L in spec["lengths"][len(done) :]
        ]  # fmt: skip
        rows += done + lost
        print(*(done + lost), sep="\n", flush=True)
        write_results(  # after every backend, so a step stopped at its time limit keeps what it measured
            stem,
            pd.DataFrame(rows),
            "Cauchy backends on the GPU, S4 kernel sums (r = 1), forward+backward",
            "python -m benchmarks.device_check",
        )


def step(name: str, spec: dict, config_path: str) -> dict:
    """Run one step in a fresh process under its time limit; its status for device_check.md."""
    commands = {
        "gpu_tests": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_gpu.py"],
        "cauchy": [sys.executable, "-m", "benchmarks.device_check", "--config", config_path, "--only-cauchy"],
        "training_cost": [
            sys.executable,
            "-m",
            "benchmarks.training_cost",
            "--config",
            str(spec.get("config", "")),
            "--stem",
            "training_cost_gpu",
        ],
        "classifier": [
            sys.executable,
            "-m",
            "benchmarks.classifier_cost",
            "--config",
            str(spec.get("config", "")),
            "--stem",
            "classifier_cost_gpu",
        ],
    }
    start = time.perf_counter()
    try:
        out = subprocess.run(
            commands[name],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=spec["timeout_s"],
            env={**os.environ, "TRITON_INTERPRET": "0"},
        )
        status = "ok" if out.returncode == 0 else f"failed (exit {out.returncode})"
        lines = (out.stdout + out.stderr).strip().splitlines()
    except subprocess.TimeoutExpired as e:
        status = f"timed out after {spec['timeout_s']} s"
        lines = "".join(_text(s) for s in (e.stdout, e.stderr)).strip().splitlines()
    tail = lines[-3:]
    if status != "ok":
        print(f"--- {name}: {status}; its last 40 lines:", *lines[-40:], sep="\n", flush=True)
    row = {"step": name, "status": status, "seconds": round(time.perf_counter() - start, 1), "last lines": " / ".join(tail)[:300]}
    print(json.dumps(row), flush=True)
    return row


def _text(stream: bytes | str | None) -> str:
    return stream.decode(errors="replace") if isinstance(stream, bytes) else stream or ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs/benchmarks/device_check.yaml"))
    parser.add_argument("--only-cauchy", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cauchy-backend", help=argparse.SUPPRESS)
    parser.add_argument("--cauchy-spec", type=json.loads, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print(
            "device_check: no CUDA device here; it needs a GPU and measured nothing "
            "(the CPU benchmarks are benchmarks/training_cost.py and benchmarks/kernels.py)"
        )
        return 1
    cfg = load_config(args.config)["steps"]
    if args.cauchy_backend:
        backend_cases(args.cauchy_spec, args.cauchy_backend)
        return 0
    if args.only_cauchy:
        cauchy(cfg["cauchy"])
        return 0
    rows = [step(name, spec, args.config) for name, spec in cfg.items()]
    meta = "".join(f"- {k}: {v}\n" for k, v in metadata("python -m benchmarks.device_check").items())
    (ROOT / "benchmarks" / "results" / "device_check.md").write_text(
        f"# Device check\n\n{meta}\n{pd.DataFrame(rows).to_markdown(index=False)}\n"
    )
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
