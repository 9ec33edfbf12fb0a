"""Shared by the library's tests (tests/) and the benchmark harness's (benchmarks/tests/)."""

import os
import tempfile
from pathlib import Path

import pytest
import torch

# Eager real-arithmetic Cauchy kernel by default: compiling every test's shapes costs minutes.
# test_cauchy.py checks the compiled path explicitly.
os.environ.setdefault("S4FORECAST_COMPILE", "0")
# Triton decides at decoration time whether kernels run compiled (GPU) or interpreted (CPU): the
# suite verifies the GPU Cauchy kernel with the interpreter. Set TRITON_INTERPRET=0 on a GPU machine.
os.environ.setdefault("TRITON_INTERPRET", "1")
# Generated ListOps / Pathfinder data is cached on disk (s4forecast/classification/generated.py): the suite
# gets a fresh cache of its own, so it neither reads a developer's entries nor leaves files in their home.
os.environ["S4FORECAST_CACHE_DIR"] = tempfile.mkdtemp(prefix="s4forecast-test-cache-")

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Real data: $S4FORECAST_DATA_DIR, else ../shared/data; skipped (with the reason) only when absent."""
    path = Path(os.environ.get("S4FORECAST_DATA_DIR", DEFAULT_DATA)).resolve()
    if not (path / "ETTh1.csv").exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide the real data, but {path} has no ETTh1.csv")
        pytest.skip(f"real data not found in {path}; set S4FORECAST_DATA_DIR")
    return path
