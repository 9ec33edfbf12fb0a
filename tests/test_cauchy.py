import pytest
import torch

from s4forecast import cauchy
from s4forecast.ssm import cauchy as cauchy_module

BACKENDS = ["torch", "keops"] if cauchy_module.keops_available() else ["torch"]


def plain_sum(v, z, w, conj):
    """The definition, term by term in float64 loops over n."""
    out = torch.zeros(*v.shape[:-1], z.shape[0], dtype=torch.complex128)
    for n in range(v.shape[-1]):
        out += v[..., n, None] / (z - w[..., n, None])
        if conj:
            out += v[..., n, None].conj() / (z - w[..., n, None].conj())
    return out


def inputs(shape=(2, 3, 6), L=17, dtype=torch.complex128):
    v = torch.randn(shape, dtype=dtype, requires_grad=True)
    w = torch.complex(-torch.rand(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)).to(dtype).requires_grad_()
    z = torch.randn(L, dtype=dtype)
    return v, z, w


@pytest.mark.parametrize("backend", BACKENDS + ["naive"])
@pytest.mark.parametrize("conj", [False, True])
def test_backend_equals_plain_sum(backend, conj):
    v, z, w = inputs()
    torch.testing.assert_close(cauchy(v, z, w, backend=backend, conj=conj), plain_sum(v, z, w, conj), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_match_naive(backend):
    v, z, w = inputs()
    z.requires_grad_()
    g = torch.randn(2, 3, 17, dtype=torch.complex128)
    grads = {}
    for b in (backend, "naive"):
        out = cauchy(v, z, w, backend=b, conj=True)
        grads[b] = torch.autograd.grad((out * g.conj()).real.sum(), [v, z, w])
    for a, b in zip(grads[backend], grads["naive"]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_torch_backend_gradcheck_and_chunking(monkeypatch):
    monkeypatch.setattr(cauchy_module, "CHUNK_ELEMENTS", 20)  # forces several chunks over L
    v, z, w = inputs((2, 4), L=9)
    z.requires_grad_()
    assert torch.autograd.gradcheck(lambda v, z, w: cauchy(v, z, w, backend="torch", conj=True), (v, z, w))


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_complex64(backend):
    v, z, w = (t.detach().to(torch.complex64) for t in inputs())
    out = cauchy(v, z, w, backend=backend)
    assert out.dtype == torch.complex64
    torch.testing.assert_close(out.to(torch.complex128), plain_sum(v, z, w, False), rtol=1e-4, atol=1e-4)


def test_bad_arguments():
    v, z, w = inputs()
    with pytest.raises(ValueError, match="unknown Cauchy backend 'cuda'"):
        cauchy(v, z, w, backend="cuda")
    with pytest.raises(ValueError, match="equal shape"):
        cauchy(v, z, w[..., :3])
    with pytest.raises(TypeError, match="complex"):
        cauchy(v.real, z, w)


def test_explicit_keops_without_pykeops_says_why(monkeypatch):
    monkeypatch.setattr(cauchy_module, "keops_available", lambda: False)
    cauchy_module._check_explicit.cache_clear()
    v, z, w = inputs()
    with pytest.raises(RuntimeError, match="pykeops"):
        cauchy(v, z, w, backend="keops")
    cauchy_module._check_explicit.cache_clear()


def test_compiled_torch_backend_matches_naive(monkeypatch):
    monkeypatch.setenv("S4FORECAST_COMPILE", "1")
    cauchy_module._terms_fn.cache_clear()
    try:
        assert cauchy_module._terms_fn() is not cauchy_module._pair_terms
        v, z, w = (t.detach().to(torch.complex64) for t in inputs())
        v.requires_grad_()
        w.requires_grad_()
        g = torch.randn(2, 3, 17, dtype=torch.complex64)
        out = cauchy(v, z, w, backend="torch", conj=True)
        ref = cauchy(v, z, w, backend="naive", conj=True)
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
        got = torch.autograd.grad((out * g.conj()).real.sum(), [v, w])
        want = torch.autograd.grad((ref * g.conj()).real.sum(), [v, w])
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)
    finally:
        monkeypatch.setenv("S4FORECAST_COMPILE", "0")
        cauchy_module._terms_fn.cache_clear()


TRITON = pytest.mark.skipif(not cauchy_module.triton_available("cuda"), reason="triton is not installed")


@TRITON
@pytest.mark.parametrize("conj", [False, True])
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_triton_backend_in_interpreter_matches_naive(conj, dtype):
    """The GPU kernel, run by Triton's CPU interpreter on small sizes (N and L not multiples of the
    blocks), against the naive sum: values and gradients."""
    cauchy_module._check_explicit.cache_clear()
    try:
        v, _, w = (t.detach().to(dtype) for t in inputs((2, 37)))
        v.requires_grad_()
        w.requires_grad_()
        omega = torch.exp(-2j * torch.pi * torch.arange(70) / 128)
        z = (2 * (1 - omega) / (1 + omega)).to(dtype)  # includes z = 0 (the DC bin)
        out, ref = cauchy(v, z, w, backend="triton", conj=conj), cauchy(v, z, w, backend="naive", conj=conj)
        tol = 1e-10 if dtype == torch.complex128 else 1e-4
        torch.testing.assert_close(out, ref, rtol=tol, atol=tol * ref.abs().max().item())
        g = torch.randn_like(out)
        got = torch.autograd.grad((out * g.conj()).real.sum(), [v, w])
        want = torch.autograd.grad((ref * g.conj()).real.sum(), [v, w])
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, rtol=tol, atol=tol * b.abs().max().item())
    finally:
        cauchy_module._check_explicit.cache_clear()


def test_triton_on_cpu_without_interpreter_says_why(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    cauchy_module._check_explicit.cache_clear()
    v, z, w = inputs()
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET"):
        cauchy(v, z, w, backend="triton")
    cauchy_module._check_explicit.cache_clear()


def test_auto_rule(monkeypatch):
    monkeypatch.setattr(cauchy_module, "keops_available", lambda: True)
    monkeypatch.setattr(cauchy_module, "keops_runnable", lambda: (True, ""))
    assert cauchy_module.resolve_backend("auto", "cpu") == "keops"
    monkeypatch.setattr(cauchy_module, "keops_available", lambda: False)
    assert cauchy_module.resolve_backend("auto", "cpu") == "torch"
    monkeypatch.setattr(cauchy_module, "triton_available", lambda device: device == "cuda")
    assert cauchy_module.resolve_backend("auto", "cuda") == "triton"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("conj", [False, True])
def test_shared_poles_equal_separate_plain_sums(monkeypatch, backend, conj):
    monkeypatch.setattr(cauchy_module, "CHUNK_ELEMENTS", 30)  # several chunks of z
    v = torch.randn(4, 2, 5, dtype=torch.complex128, requires_grad=True)
    w = torch.complex(-torch.rand(2, 5, dtype=torch.float64), torch.randn(2, 5, dtype=torch.float64)).requires_grad_()
    z = torch.randn(13, dtype=torch.complex128)
    out = cauchy_module.cauchy_shared(v, z, w, backend=backend, conj=conj)
    want = torch.stack([plain_sum(v[k], z, w, conj) for k in range(4)])
    torch.testing.assert_close(out, want, rtol=1e-10, atol=1e-10)
    g = torch.randn_like(out)
    got = torch.autograd.grad((out * g.conj()).real.sum(), [v, w])
    ref = torch.autograd.grad((cauchy(v, z, w.expand_as(v), backend="naive", conj=conj) * g.conj()).real.sum(), [v, w])
    for a, b in zip(got, ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_shared_poles_gradcheck():
    v = torch.randn(3, 2, 4, dtype=torch.complex128, requires_grad=True)
    w = torch.complex(-torch.rand(2, 4, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)).requires_grad_()
    z = torch.randn(9, dtype=torch.complex128)
    assert torch.autograd.gradcheck(lambda v, w: cauchy_module.cauchy_shared(v, z, w, backend="torch", conj=True), (v, w))
    with pytest.raises(ValueError, match=r"v \(K, ..., N\)"):
        cauchy_module.cauchy_shared(v, z, w[..., :3])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("conj", [False, True])
def test_products_equal_plain_sums_of_each_product(backend, conj):
    """cauchy_products against the plain float64 sum of every product vector left_i * right_j,
    values and gradients (keops evaluates them in one fused reduction with a hand-written backward)."""
    torch.manual_seed(1)
    left = torch.randn(2, 3, 5, dtype=torch.complex128, requires_grad=True)
    right = torch.randn(3, 3, 5, dtype=torch.complex128, requires_grad=True)
    w = torch.complex(-torch.rand(3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)).requires_grad_()
    z = torch.randn(11, dtype=torch.complex128)
    out = cauchy_module.cauchy_products(left, right, z, w, backend=backend, conj=conj)
    assert out.shape == (2, 3, 3, 11)
    want = torch.stack([torch.stack([plain_sum(left[i] * right[j], z, w, conj) for j in range(3)]) for i in range(2)])
    torch.testing.assert_close(out, want, rtol=1e-10, atol=1e-10)
    g = torch.randn_like(out)
    got = torch.autograd.grad((out * g.conj()).real.sum(), [left, right, w])
    ref = torch.autograd.grad((want * g.conj()).real.sum(), [left, right, w])
    for a, b in zip(got, ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_products_of_operand_sequences_with_conjugate_views(backend):
    """The S4 kernel passes (C̃, conj(P)) and (B, P) as sequences of parameter views; keops reads a
    lazy conjugate in place. Values and gradients (through the conjugation) against plain sums."""
    torch.manual_seed(2)
    base, c, b = (torch.randn(3, 5, dtype=torch.complex128, requires_grad=True) for _ in range(3))
    w = torch.complex(-torch.rand(3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)).requires_grad_()
    z = torch.randn(11, dtype=torch.complex128)
    left, right = [c, base.conj()], [b, base]
    assert left[1].is_conj()
    out = cauchy_module.cauchy_products(left, right, z, w, backend=backend, conj=True)
    want = torch.stack([torch.stack([plain_sum(x * y, z, w, True) for y in right]) for x in left])
    torch.testing.assert_close(out, want, rtol=1e-10, atol=1e-10)
    g = torch.randn_like(out)
    got = torch.autograd.grad((out * g.conj()).real.sum(), [base, c, b, w])
    ref = torch.autograd.grad((want * g.conj()).real.sum(), [base, c, b, w])
    for x, y in zip(got, ref):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-9)


def test_products_keops_gradcheck():
    pytest.importorskip("pykeops")
    left = torch.randn(2, 2, 3, dtype=torch.complex128, requires_grad=True)
    right = torch.randn(2, 2, 3, dtype=torch.complex128, requires_grad=True)
    w = torch.complex(-torch.rand(2, 3, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)).requires_grad_()
    z = torch.randn(7, dtype=torch.complex128)
    assert torch.autograd.gradcheck(
        lambda a, b, w: cauchy_module.cauchy_products(a, b, z, w, backend="keops", conj=True), (left, right, w)
    )
    with pytest.raises(ValueError, match=r"left \(R, ..., N\)"):
        cauchy_module.cauchy_products(left, right[..., :2], z, w)


def test_keops_that_cannot_run_is_refused_by_name_and_avoided_by_auto(monkeypatch, tmp_path):
    """A pykeops whose engine crashes (a child process killed by a signal) is probed once, never run here."""
    from s4forecast.ssm import keops_probe

    monkeypatch.setenv("S4FORECAST_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(keops_probe, "PROBE", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    monkeypatch.setattr(cauchy_module, "keops_available", lambda: True)
    keops_probe.keops_runnable.cache_clear()
    cauchy_module._check_explicit.cache_clear()
    try:
        assert keops_probe.keops_runnable() == (False, "the probe process was killed by signal 11")
        assert list((tmp_path / "keops_probe").glob("*.json"))  # remembered on disk
        assert cauchy_module.resolve_backend("auto", "cpu") == "torch"
        with pytest.raises(RuntimeError, match="pykeops cannot run on this machine .*signal 11"):
            cauchy(*inputs(), backend="keops")
    finally:
        keops_probe.keops_runnable.cache_clear()
        cauchy_module._check_explicit.cache_clear()
