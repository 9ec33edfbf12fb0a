"""The closed-loop rollout (SpaceTime) against step-by-step recurrences: plain loops over dense matrices,
and each SSM mode's own recurrent view (``step``) with the feedback applied by hand."""

import numpy as np
import pytest
import torch

from s4forecast.forecasting.closed_loop import ClosedLoopDecoder
from s4forecast.nn import S4Options
from s4forecast.ssm import discretize
from s4forecast.ssm.closed_loop import (
    closed_loop_outputs,
    closed_loop_rows,
    final_state,
    krylov,
    one_step_kernel,
    state_columns,
)


def loop_reference(A_bar, B_bar, C, K, u, T):
    """x_t = Ā x_{t-1} + B̄ u_t over the context, then u_{t+1} = Re K x_t; returns (horizon outputs (B, T, H),
    one-step predictions Re K x_t for t = 0..L-2 (B, L-1, H))."""
    B, L, H = u.shape
    x = torch.zeros(B, H, A_bar.shape[-1], dtype=A_bar.dtype)
    predicted = []
    for t in range(L):
        x = torch.einsum("hmn,bhn->bhm", A_bar, x) + B_bar * u[:, t, :, None]
        if t < L - 1:
            predicted.append((K * x).sum(-1).real)
    outputs = []
    for _ in range(T):
        feedback = (K * x).sum(-1).real
        x = torch.einsum("hmn,bhn->bhm", A_bar, x) + B_bar * feedback[..., None]
        outputs.append((C * x).sum(-1).real)
    return torch.stack(outputs, 1), torch.stack(predicted, 1)


@pytest.mark.parametrize("L", [1, 2, 5, 16, 17, 40, 100])
def test_krylov_is_the_sequence_of_powers(L):
    g = torch.Generator().manual_seed(L)
    M, v = torch.randn(3, 4, 4, generator=g, dtype=torch.float64) / 2, torch.randn(3, 4, generator=g, dtype=torch.float64)
    expected = torch.stack([torch.linalg.matrix_power(M, j) @ v[..., None] for j in range(L)], 1)[..., 0]
    torch.testing.assert_close(krylov(M, v, L), expected)


@pytest.mark.parametrize("L, T", [(2, 1), (7, 5), (16, 33)])
def test_closed_loop_functions_match_the_loops(L, T):
    g = torch.Generator().manual_seed(0)
    H, N, B = 3, 6, 2

    def r(*shape):  # a real system (the conjugate-pair ones are checked against their recurrent views below)
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    A_bar = r(H, N, N) / (2 * N**0.5)  # spectral radius well below 1
    B_bar, C, K = r(H, N), r(H, N), r(H, N) / 4
    u = torch.randn(B, L, H, generator=g, dtype=torch.float64)
    outputs, predicted = loop_reference(A_bar, B_bar, C, K, u, T)
    columns = state_columns(A_bar, B_bar, L)
    x = final_state(columns, u)
    torch.testing.assert_close(closed_loop_outputs(closed_loop_rows(A_bar, B_bar, C, K, T), x), outputs)
    kernel = one_step_kernel(columns, K)
    by_kernel = torch.stack([sum(kernel[:, t - i] * u[:, i] for i in range(t + 1)) for t in range(L - 1)], 1)
    torch.testing.assert_close(by_kernel, predicted)


@pytest.mark.parametrize(
    "mode, init, discretization",
    [
        ("nplr", "legs", "bilinear"),
        ("nplr", "fout", "bilinear"),
        ("diag", "diag-lin", "zoh"),
        ("diag", "legs", "bilinear"),
        ("dense", "legt", "bilinear"),
    ],
)
def test_decoder_matches_the_ssms_own_recurrent_view(mode, init, discretization):
    """The decoder's rollout and one-step predictions equal the SSM's ``step`` run on the context, then fed
    its own predicted input ``K x`` (K: 2 Re K_half x_half for conjugate-pair states, Re K x for dense)."""
    torch.manual_seed(0)
    options = S4Options(d_model=3, d_state=8, mode=mode, init=init, discretization=discretization, dt_min=0.05, dt_max=0.3)
    decoder = ClosedLoopDecoder(options).double()
    with torch.no_grad():
        decoder.K.normal_(0, 0.3)
    L, T, B = 12, 9, 2
    u = torch.randn(B, L, 3, dtype=torch.float64)
    with torch.no_grad():
        outputs, predicted = decoder(u, T)
    ssm = decoder.ssm
    ssm.setup_step()
    K = torch.view_as_complex(decoder.K.detach())
    half = ssm.state_size < ssm.N

    def feedback(state):
        return 2 * (K * state).sum(-1).real if half else (K.real * state).sum(-1).real

    state = ssm.default_state(B)
    expected_predicted, expected_outputs = [], []
    with torch.no_grad():
        for t in range(L):
            _, state = ssm.step(u[:, t], state)
            if t < L - 1:
                expected_predicted.append(feedback(state))
        for _ in range(T):
            y, state = ssm.step(feedback(state), state)
            expected_outputs.append(y)
    torch.testing.assert_close(outputs, torch.stack(expected_outputs, 1), rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(predicted, torch.stack(expected_predicted, 1), rtol=1e-7, atol=1e-9)


def test_decoder_gradients_reach_the_feedback_and_the_ssm():
    decoder = ClosedLoopDecoder(S4Options(d_model=4, d_state=8))
    with torch.no_grad():
        decoder.K.normal_(0, 0.1)
    outputs, predicted = decoder(torch.randn(2, 10, 4), 6)
    (outputs.square().sum() + predicted.square().sum()).backward()
    grads = {name: p.grad for name, p in decoder.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads.values()), sorted(
        n for n, g in grads.items() if g is None or not g.abs().sum() > 0
    )


def test_zero_feedback_is_the_open_loop_system_without_input():
    """K = 0 (the start): the horizon is the context's state decaying under Ā alone."""
    decoder = ClosedLoopDecoder(S4Options(d_model=2, d_state=4, mode="diag")).double()
    u = torch.randn(1, 6, 2, dtype=torch.float64)
    with torch.no_grad():
        outputs, _ = decoder(u, 4)
        A, B, C, dt = decoder.ssm.ssm_matrices()  # the dense complex system, discretised on its own
        A_bar, B_bar = discretize.dense(A, B, dt.to(A.dtype), decoder.ssm.discretization)
        x = final_state(state_columns(A_bar, B_bar, u.shape[1]), u)
        expected = torch.stack(
            [(C * (torch.linalg.matrix_power(A_bar, j) @ x[..., None])[..., 0]).sum(-1).real for j in range(1, 5)], 1
        )
    np.testing.assert_allclose(outputs.numpy(), expected.numpy(), rtol=1e-10)


@pytest.mark.parametrize("mode", ["nplr", "diag"])
def test_frozen_rollout_is_the_same_linear_map(mode):
    """freeze_kernel (for export): the rollout as one real (H, T, L) map gives the same outputs."""
    decoder = ClosedLoopDecoder(S4Options(d_model=3, d_state=8, mode=mode)).double()
    with torch.no_grad():
        decoder.K.normal_(0, 0.3)
    u = torch.randn(2, 11, 3, dtype=torch.float64)
    with torch.no_grad():
        expected, _ = decoder(u, 7, rate=0.5)
        decoder.freeze_kernel(11, 7, rate=0.5)
        frozen, predicted = decoder(u, 7)
    torch.testing.assert_close(frozen, expected)
    assert predicted.shape[1] == 0
    decoder.unfreeze_kernel()
    assert decoder._frozen_map is None
