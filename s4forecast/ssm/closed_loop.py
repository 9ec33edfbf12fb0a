"""Closed-loop rollout of a discrete SSM (SpaceTime, Zhang et al., ICLR 2023, Sec. 3.2 "closed-loop").

Over the context the system runs open loop on its inputs (S4 eq. 3, ``x_{-1} = 0``)::

    x_t = Ā x_{t-1} + B̄ u_t,    y_t = C x_t,    t = 0..L-1

and its state ``x_{L-1}`` summarises the context. Over the horizon no input is observed: the next input
is predicted from the state by a learned feedback, ``u_{t+1} = K x_t``, so the horizon runs on the closed
loop ``x_{t+1} = (Ā + B̄K) x_t`` and

    y_{L-1+j} = C (Ā + B̄K)^j x_{L-1},    j = 1..T.

``K`` is trained by the one-step predictions over the context, ``û_{t+1} = K x_t = Σ_{i<=t} K Ā^{t-i} B̄ u_i``
(a causal convolution with the kernel ``K Ā^j B̄``), against the inputs that followed.

Shapes: Ā (H, N, N), B̄, C, K (H, N), complex (a conjugate-pair system's full state, as
``ssm_matrices()`` gives it; the outputs are real parts), u (B, L, H) real. These are the dense forms,
whatever the SSM's structure (O(N^3 log L) per channel by repeated squaring, :func:`krylov`): the reference
the decoder's structured recurrence is tested against, and the rollout as one constant map for export.
"""

from __future__ import annotations

import torch


def krylov(M: torch.Tensor, v: torch.Tensor, L: int) -> torch.Tensor:
    """The Krylov sequence ``(v, M v, ..., M^{L-1} v)``: M (..., N, N), v (..., N) -> (..., L, N), by doubling
    (the first m vectors times M^m give the next m): ceil(log2 L) products and squarings, O(N^3 log L), in
    a few large batched products (measured faster on the CPU than L matrix-vector products even for
    L < N: a batched product of vectors is memory-bound, and so is its backward).

    Parameters
    ----------
    M
        (..., N, N).
    v
        (..., N).
    L
        The sequence length.

    Returns
    -------
    torch.Tensor
        (..., L, N).
    """
    out, power = v[..., None, :], M
    while out.shape[-2] < L:
        out = torch.cat([out, out @ power.transpose(-1, -2)], -2)  # rows (M^j v)^T (M^m)^T = (M^{j+m} v)^T
        if out.shape[-2] < L:
            power = power @ power
    return out[..., :L, :]


def state_columns(A_bar: torch.Tensor, B_bar: torch.Tensor, L: int) -> torch.Tensor:
    """The impulse response of the state, ``Ā^j B̄`` for j < L: what the state after the context and the
    one-step predictions are both read from.

    Parameters
    ----------
    A_bar
        (H, N, N).
    B_bar
        (H, N).
    L
        The context length.

    Returns
    -------
    torch.Tensor
        (H, L, N).
    """
    return krylov(A_bar, B_bar, L)


def final_state(columns: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The state after the context, ``x_{L-1} = Σ_t Ā^{L-1-t} B̄ u_t``.

    Parameters
    ----------
    columns
        (H, L, N): :func:`state_columns`.
    u
        (B, L, H) real.

    Returns
    -------
    torch.Tensor
        (B, H, N).
    """
    return torch.einsum("hjn,bjh->bhn", columns.flip(-2), u.to(columns.dtype))


def closed_loop_rows(A_bar, B_bar, C, K, T: int) -> torch.Tensor:
    """The rows ``C (Ā + B̄K)^j``, j = 1..T, that read the horizon off the state after the context.

    Parameters
    ----------
    A_bar
        (H, N, N).
    B_bar, C, K
        (H, N).
    T
        Horizon steps.

    Returns
    -------
    torch.Tensor
        (H, T, N).
    """
    closed = A_bar + B_bar[..., :, None] * K[..., None, :]
    return krylov(closed.transpose(-1, -2), C, T + 1)[..., 1:, :]


def closed_loop_outputs(rows: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The horizon on the closed loop, ``y_{L-1+j} = Re C (Ā + B̄K)^j x``, j = 1..T.

    Parameters
    ----------
    rows
        (H, T, N): :func:`closed_loop_rows`.
    x
        (B, H, N): the state after the context.

    Returns
    -------
    torch.Tensor
        (B, T, H) real.
    """
    return torch.einsum("htn,bhn->bth", rows, x).real


def context_to_horizon(A_bar, B_bar, C, K, L: int, T: int) -> torch.Tensor:
    """The rollout as one real linear map of the context (the closed loop is linear in its inputs):
    ``y_{L-1+j} = Σ_t W[:, j-1, t] u_t`` with ``W[:, j-1, t] = Re C (Ā + B̄K)^j Ā^{L-1-t} B̄``.

    Parameters
    ----------
    A_bar
        (H, N, N).
    B_bar, C, K
        (H, N).
    L, T
        Context and horizon steps.

    Returns
    -------
    torch.Tensor
        W (H, T, L) real.
    """
    rows, columns = closed_loop_rows(A_bar, B_bar, C, K, T), state_columns(A_bar, B_bar, L).flip(-2)
    return (rows @ columns.transpose(-1, -2)).real


def one_step_kernel(columns: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """The kernel of the one-step predictions ``û_{t+1} = K x_t = Σ_{i<=t} k_{t-i} u_i``.

    Parameters
    ----------
    columns
        (H, L, N): :func:`state_columns`.
    K
        (H, N).

    Returns
    -------
    torch.Tensor
        ``k_j = Re K Ā^j B̄`` (H, L).
    """
    return (columns * K[..., None, :]).sum(-1).real
