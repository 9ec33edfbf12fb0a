"""Whether pykeops can run on this machine, asked once in a child process.

pykeops builds its engine on first use, and where that build fails it can take the whole process down
(seen with pykeops 2.3 under CUDA 13: a segmentation fault while generating code, for CPU tensors too).
So before the first keops reduction, a child process runs a tiny one; its verdict (and why, if not) is
kept for the process and on disk in ``$S4FORECAST_CACHE_DIR`` (default ``~/.cache/s4forecast``; ``off``:
in memory only), keyed by the pykeops, torch and Python versions and whether CUDA is visible.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

PROBE = (
    "import torch\n"
    "from pykeops.torch import Genred\n"
    "f = Genred('SqNorm2(x - y)', ['x = Vi(2)', 'y = Vj(2)'], reduction_op='Sum', axis=1)\n"
    "x, y = torch.randn(5, 2, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)\n"
    "assert torch.allclose(f(x, y), ((x[:, None] - y[None]) ** 2).sum((1, 2))[:, None])\n"
)
PROBE_SECONDS = 600  # a first build of the engine can take minutes


def _verdict_file() -> Path | None:
    location = os.environ.get("S4FORECAST_CACHE_DIR", str(Path.home() / ".cache" / "s4forecast"))
    if location == "off":
        return None
    import pykeops

    key = json.dumps([pykeops.__version__, torch.__version__, sys.version, torch.cuda.is_available(), PROBE])
    return Path(location) / "keops_probe" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


@functools.cache
def keops_runnable() -> tuple[bool, str]:
    """(runs, why not): a small reduction in a child process, once per process and machine."""
    path = _verdict_file()
    if path is not None and path.exists():
        verdict = json.loads(path.read_text())
        return verdict["runs"], verdict["why"]
    try:
        done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=PROBE_SECONDS)
        runs = done.returncode == 0
        if runs:
            why = ""
        elif done.returncode < 0:
            why = f"the probe process was killed by signal {-done.returncode}"
        else:
            why = (done.stderr.strip().splitlines() or ["no message"])[-1]
    except subprocess.TimeoutExpired:
        runs, why = False, f"the probe did not finish in {PROBE_SECONDS} s"
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"runs": runs, "why": why}))
    return runs, why
