"""Discretisation of continuous-time SSMs ``x' = A x + B u`` with step ``Δ`` (S4 eq. 3).

``bilinear`` (Tustin, the paper's choice)::  Ā = (I - Δ/2 A)^{-1} (I + Δ/2 A),  B̄ = (I - Δ/2 A)^{-1} Δ B
``zoh`` (zero-order hold)::                  Ā = exp(Δ A),                      B̄ = A^{-1} (exp(Δ A) - I) B

Shapes: dense ``A`` (..., N, N), diagonal ``Λ`` (..., N), ``B`` (..., N), ``dt`` (...,) broadcast
against the leading dimensions. The DPLR case (``Λ - P P^*``) is discretised for the recurrent view in
:mod:`s4forecast.ssm.recurrence` (O(N r) per step, bilinear) or densely through :func:`dense`.
"""

from __future__ import annotations

import torch

DISCRETIZATIONS = ("bilinear", "zoh")


def check_discretization(method: str) -> None:
    """Refuse a discretization outside ``DISCRETIZATIONS`` (``bilinear``, ``zoh``), naming the valid ones.

    Parameters
    ----------
    method
        The name to check.
    """
    if method not in DISCRETIZATIONS:
        raise ValueError(f"unknown discretization {method!r}; valid: {', '.join(DISCRETIZATIONS)}")


def dense(A: torch.Tensor, B: torch.Tensor, dt: torch.Tensor, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Discretise a dense system: bilinear (S4 eq. 3) or zero-order hold.

    Parameters
    ----------
    A
        (..., N, N).
    B
        (..., N).
    dt
        (...,) step sizes Δ.
    method
        ``bilinear`` or ``zoh``.

    Returns
    -------
    tuple of torch.Tensor
        (Ā (..., N, N), B̄ (..., N)).
    """
    check_discretization(method)
    I = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    dtA = dt[..., None, None] * A
    if method == "bilinear":
        M_inv = _inverse(I - dtA / 2)
        Ab = M_inv @ (I + dtA / 2)
        Bb = (M_inv @ (dt[..., None] * B)[..., None])[..., 0]
    else:
        # exp([[ΔA, ΔB], [0, 0]]) = [[Ā, B̄], [0, 1]] (Van Loan): no inverse of A, so singular A is fine.
        N = A.shape[-1]
        aug = torch.zeros(*A.shape[:-2], N + 1, N + 1, dtype=A.dtype, device=A.device)
        aug[..., :N, :N] = dtA
        aug[..., :N, N] = dt[..., None] * B
        expm = torch.linalg.matrix_exp(aug)
        Ab, Bb = expm[..., :N, :N], expm[..., :N, N]
    return Ab, Bb


def _inverse(M: torch.Tensor) -> torch.Tensor:
    """Batched inverse (..., N, N). On the CPU, systems of N >= 128 are inverted one matrix at a time:
    MKL's multi-threaded batched LU in torch fails ("SLASWP parameter 6", then "pivots given to
    lu_solve") for 256 systems of 256 x 256 on 2 threads (torch 2.13.0+cpu), even for a batch of one,
    while single-matrix inverses do not; this needs no change of torch's process-wide thread count."""
    if M.device.type != "cpu" or M.shape[-1] < 128 or M.dim() == 2:
        return torch.linalg.inv(M)
    flat = M.reshape(-1, *M.shape[-2:])
    return torch.stack([torch.linalg.inv(m) for m in flat.unbind(0)]).reshape(M.shape)


def diagonal(Lambda: torch.Tensor, B: torch.Tensor, dt: torch.Tensor, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Discretise a diagonal system: bilinear (S4 eq. 3) or zero-order hold (S4D).

    Parameters
    ----------
    Lambda
        (..., N), the diagonal of A.
    B
        (..., N).
    dt
        (...,) step sizes Δ.
    method
        ``bilinear`` or ``zoh``.

    Returns
    -------
    tuple of torch.Tensor
        (Ā (..., N), B̄ (..., N)), the diagonal of Ā and B̄.
    """
    check_discretization(method)
    dtL = dt[..., None] * Lambda
    if method == "bilinear":
        denom = 1 - dtL / 2
        return (1 + dtL / 2) / denom, dt[..., None] * B / denom
    Ab = torch.exp(dtL)
    return Ab, (Ab - 1) / Lambda * B
