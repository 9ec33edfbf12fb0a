"""benchmarks/device_check.py without a GPU: it says so, and its Cauchy step turns a backend process that
dies into error rows instead of losing the step (on the GPU machine pykeops segfaulted)."""

import pandas as pd
import pytest
import torch

from benchmarks import device_check

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU behaviour")


def test_without_a_gpu_it_says_so_and_fails(capsys):
    assert device_check.main([]) == 1
    assert "no CUDA device" in capsys.readouterr().out


def test_a_backend_process_that_dies_becomes_one_error_row_per_length(tmp_path):
    spec = {"H": 4, "N": 4, "lengths": [8, 16], "backends": ["torch", "triton"], "repeats": 1}
    # an absolute stem puts the results under tmp_path, not benchmarks/results/
    device_check.cauchy(spec, stem=str(tmp_path / "c"))
    rows = pd.read_csv(tmp_path / "c.csv")
    assert list(zip(rows.backend, rows.L)) == [("torch", 8), ("torch", 16), ("triton", 8), ("triton", 16)]
    # here each backend process exits 1 at the no-GPU check before measuring anything
    assert rows.error.str.startswith("process died (exit 1) after: device_check: no CUDA device").all()
