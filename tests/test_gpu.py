"""Checks that need a CUDA device: the compiled Triton Cauchy kernel at realistic sizes. Skipped (with
the reason) on machines without one; the interpreter-mode tests in test_cauchy.py cover the kernel's
logic everywhere. Run on a GPU machine with TRITON_INTERPRET=0."""

import os

import pytest
import torch

from s4forecast.ssm import cauchy as cauchy_module

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1",
    reason="needs a CUDA device and compiled Triton (TRITON_INTERPRET=0)",
)


@pytest.mark.parametrize("L", [1024, 4097])
def test_compiled_triton_matches_torch_on_gpu(L):
    torch.manual_seed(0)
    v = torch.randn(256, 32, dtype=torch.complex64, device="cuda", requires_grad=True)
    w = torch.complex(-torch.rand(256, 32), torch.randn(256, 32)).cuda().requires_grad_()
    z = torch.exp(-2j * torch.pi * torch.arange(L // 2 + 1) / L).to(torch.complex64).cuda()
    assert cauchy_module.resolve_backend("auto", "cuda") == "triton"
    out = cauchy_module.cauchy(v, z, w, backend="triton", conj=True)
    ref = cauchy_module.cauchy(v, z, w, backend="torch", conj=True)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())
    g = torch.randn_like(out)
    for a, b in zip(
        torch.autograd.grad((out * g.conj()).real.sum(), [v, w]), torch.autograd.grad((ref * g.conj()).real.sum(), [v, w])
    ):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3 * b.abs().max().item())
