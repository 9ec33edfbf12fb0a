"""Every fast kernel against the dense powers reference, in float64."""

import itertools

import pytest
import torch

from s4forecast.ssm import discretize, kernels
from s4forecast.ssm.cauchy import keops_available
from s4forecast.ssm.systems import build_ssm

CASES = (
    [
        ("nplr", init, "bilinear", l_max)
        for init, l_max in itertools.product(["legs", "legt", "lagt", "fout", "random"], [32, None])
    ]
    + [
        ("diag", init, disc, None)
        for init, disc in itertools.product(["diag-lin", "diag-inv", "diag-legs", "legs"], ["zoh", "bilinear"])
    ]
    + [("dense", init, disc, None) for init, disc in itertools.product(["legs", "fout"], ["zoh", "bilinear"])]
)


def make(mode, init, disc, l_max, H=3, N=8, rank=2, backend="torch"):
    kw = dict(d_state=N, init=init, discretization=disc, dt_min=1e-2, dt_max=0.5)
    if mode == "nplr":
        kw.update(l_max=l_max, rank=rank, backend=backend)
    return build_ssm(mode, H, **kw).double()


def powers_reference(ssm, L, rate=1.0):
    A, B, C, dt = ssm.ssm_matrices()
    A_bar_input = (A, B, C, dt * rate)
    return kernels.dense(*A_bar_input, L, ssm.discretization)


@pytest.mark.parametrize("mode,init,disc,l_max", CASES)
def test_kernel_equals_dense_powers(mode, init, disc, l_max):
    ssm = make(mode, init, disc, l_max)
    K = ssm.conv_kernel(32)
    assert K.shape == (3, 32) and K.dtype == torch.float64
    torch.testing.assert_close(K, powers_reference(ssm, 32), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("backend", ["torch", "keops"] if keops_available() else ["torch"])
@pytest.mark.parametrize("init,l_max", itertools.product(["legs", "random"], [32, None]))
def test_rank_one_nplr_kernel_equals_dense_powers(init, l_max, backend):
    # rank 1 takes the Woodbury division instead of the batched solve; keops reads the parameters in place
    ssm = make("nplr", init, "bilinear", l_max, rank=1, backend=backend)
    torch.testing.assert_close(ssm.conv_kernel(32), powers_reference(ssm, 32), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("L", [7, 20, 45])  # shorter (truncated), odd, and longer than l_max
def test_nplr_other_lengths(L):
    ssm = make("nplr", "legs", "bilinear", 32)
    torch.testing.assert_close(ssm.conv_kernel(L), powers_reference(ssm, L), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("mode", ["nplr", "diag"])
def test_rate_scales_dt(mode):
    ssm = make(mode, "legs", "bilinear", 32)
    torch.testing.assert_close(ssm.conv_kernel(32, rate=0.25), powers_reference(ssm, 32, rate=0.25), rtol=1e-8, atol=1e-8)


def test_ssm_matrices_shapes_and_stability():
    ssm = make("nplr", "legs", "bilinear", 32)
    A, B, C, dt = ssm.ssm_matrices()
    assert A.shape == (3, 8, 8) and B.shape == C.shape == (3, 8) and dt.shape == (3,)
    assert A.is_complex()
    assert (torch.linalg.eigvals(A).real < 0).all()
    # conjugate-pair structure: the full system is real, so C Ā^l B̄ has no imaginary part
    A_bar, x = discretize.dense(A, B, dt.to(A.dtype), "bilinear")
    taps = []
    for _ in range(16):
        taps.append((C * x).sum(-1))
        x = (A_bar @ x[..., None])[..., 0]
    taps = torch.stack(taps, -1)
    assert taps.imag.abs().max() < 1e-10 * taps.real.abs().max()


def test_real_part_of_lambda_negative_after_any_update():
    ssm = make("nplr", "legs", "bilinear", 32)
    with torch.no_grad():
        ssm.log_neg_re.add_(torch.randn_like(ssm.log_neg_re) * 5)
    assert (ssm.Lambda().real < 0).all()


def test_nplr_rejects_zoh_and_diag_init():
    with pytest.raises(ValueError, match="bilinear"):
        build_ssm("nplr", 2, d_state=8, discretization="zoh")
    with pytest.raises(ValueError, match="mode='diag'"):
        build_ssm("nplr", 2, d_state=8, init="diag-lin")


def test_dt_initialised_log_uniform_in_range():
    ssm = build_ssm("diag", 2000, d_state=4, dt_min=1e-3, dt_max=1e-1)
    dt = ssm.dt()
    assert dt.min() >= 1e-3 * (1 - 1e-6) and dt.max() <= 1e-1 * (1 + 1e-6)
    log_dt = dt.log()
    # log-uniform: the median sits at the geometric mean
    assert abs(log_dt.median().exp().item() - 1e-2) < 2e-3
