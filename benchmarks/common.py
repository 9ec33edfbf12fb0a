"""Shared helpers for benchmark scripts: machine description, run metadata, isolated measurements."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def load_config(path: str | Path) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> str:
    import torch

    dev = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {dev}, torch {torch.__version__}"


def metadata(command: str) -> dict:
    return {
        "command": command,
        "commit": git_commit(),
        "machine": machine(),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
    }


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak_rss() -> None:
    """Reset the kernel's resident-memory high-water mark (Linux: ``5`` into /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_bytes() -> int:
    """The high-water mark of resident memory since the last ``reset_peak_rss`` (VmHWM)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def measure(fn, repeats: int) -> tuple[list[float], float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` and their peak resident memory in MiB above the
    level before them. An untimed warm-up call comes first, and the high-water mark is reset after it,
    so one-time costs (kernel compilation, library loading, allocator pools) are not counted."""
    fn()
    reset_peak_rss()
    base = rss_bytes()
    times = timings(fn, repeats, warmup=False)
    return times, max(peak_rss_bytes() - base, 0) / 2**20


def timings(fn, repeats: int, warmup: bool = True) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn``, after one untimed warm-up call."""
    if warmup:
        fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def run_isolated(module: str, args: dict) -> dict:
    """Run ``python -m module --single JSON`` in a fresh process (so peak RSS is this case's alone)
    and return the JSON dict it prints on its last line."""
    # A fixed mmap threshold makes glibc return large freed blocks to the OS at once, so the resident
    # size before a measurement is not inflated by what the warm-up freed.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 16)}
    if "threads" in args:  # KeOps' OpenMP loops and torch's intra-op pool get the case's thread count
        env["OMP_NUM_THREADS"] = str(args["threads"])
    out = subprocess.run(
        [sys.executable, "-m", module, "--single", json.dumps(args)], cwd=ROOT, capture_output=True, text=True, env=env
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def results_dir() -> Path:
    """benchmarks/results/: where every benchmark writes its tables."""
    return ROOT / "benchmarks" / "results"


def write_results(stem: str, df, title: str, command: str, notes: str = "", floatfmt: str = ".3g") -> None:
    """benchmarks/results/<stem>.csv and <stem>.md (title, run metadata, table, notes); print the table."""
    out = results_dir()
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / f"{stem}.csv", index=False)
    meta = "".join(f"- {k}: {v}\n" for k, v in metadata(command).items())
    (out / f"{stem}.md").write_text(f"# {title}\n\n{meta}\n{df.to_markdown(index=False, floatfmt=floatfmt)}\n\n{notes}")
    print(df.to_string(index=False))
