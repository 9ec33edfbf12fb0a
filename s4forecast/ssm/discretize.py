"""Discretisation of continuous-time SSMs ``x' = A x + B u`` with step ``Δ`` (S4 eq. 3).

``bilinear`` (Tustin, the paper's choice)::  Ā = (I - Δ/2 A)^{-1} (I + Δ/2 A),  B̄ = (I - Δ/2 A)^{-1} Δ B
``zoh`` (zero-order hold)::                  Ā = exp(Δ A),                      B̄ = A^{-1} (exp(Δ A) - I) B

Shapes: dense ``A`` (..., N, N), diagonal ``Λ`` (..., N), ``B`` (..., N), ``dt`` (...,) broadcast
against the leading dimensions. The DPLR case (``Λ - P P^*``) is discretised for the recurrent view in
:mod:`s4forecast.ssm.recurrence` (O(N r) per step, bilinear) or densely through :func:`dense`.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

DISCRETIZATIONS = ("bilinear", "zoh")


def check_discretization(method: str) -> None:
    if method not in DISCRETIZATIONS:
        raise ValueError(f"unknown discretization {method!r}; valid: {', '.join(DISCRETIZATIONS)}")


def dense(A: torch.Tensor, B: torch.Tensor, dt: torch.Tensor, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Discretise a dense system. A (..., N, N), B (..., N), dt (...,) -> (Ā (..., N, N), B̄ (..., N))."""
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


@contextmanager
def _one_cpu_thread(active: bool):
    before = torch.get_num_threads()
    if active:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _inverse(M: torch.Tensor) -> torch.Tensor:
    """Batched inverse. On the CPU the LU runs on one thread: MKL's multi-threaded batched getrs
    fails ("SLASWP parameter 6", then "pivots given to lu_solve") for 256 float32 systems of
    256 x 256 on 2 threads, and passes on one (seen with torch 2.13.0+cpu)."""
    with _one_cpu_thread(M.device.type == "cpu" and M.shape[-1] >= 128):
        return torch.linalg.inv(M)


def diagonal(Lambda: torch.Tensor, B: torch.Tensor, dt: torch.Tensor, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Discretise a diagonal system. Λ (..., N), B (..., N), dt (...,) -> (Ā (..., N), B̄ (..., N))."""
    check_discretization(method)
    dtL = dt[..., None] * Lambda
    if method == "bilinear":
        denom = 1 - dtL / 2
        return (1 + dtL / 2) / denom, dt[..., None] * B / denom
    Ab = torch.exp(dtL)
    return Ab, (Ab - 1) / Lambda * B
