"""SSM convolution kernels ``K = (C B̄, C Ā B̄, ..., C Ā^{L-1} B̄)`` (S4 eq. 5), real, shape (H, L).

Glossary: ``H`` channels, ``N`` state size, ``N2 = N/2`` one member of each conjugate pair,
``r`` rank of the low-rank term, ``L`` kernel length.

* :func:`nplr`  S4's Algorithm 1: the truncated generating function at the roots of unity through
  the Woodbury identity and four (``(r+1)^2``) Cauchy products, then an inverse FFT (Lemma C.3).
* :func:`diagonal` S4D's Vandermonde product.
* :func:`dense` the slow LSSL-style reference: explicit powers (Krylov sequence) of the dense Ā.
"""

from __future__ import annotations

import math

import torch

from s4forecast.ssm import discretize
from s4forecast.ssm.cauchy import cauchy_products


def conj_pair(x: torch.Tensor) -> torch.Tensor:
    """A half-system vector and its conjugate: the full real system's vector.

    Parameters
    ----------
    x
        (..., N2) complex.

    Returns
    -------
    torch.Tensor
        (..., N) = [x, conj(x)].
    """
    return torch.cat([x, x.conj()], -1)


def dplr_dense(Lambda: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
    """The dense full-state matrix ``diag(Λ, conj Λ) - P_f P_f^*`` (S4 Sec. 3.2), for references.

    Parameters
    ----------
    Lambda
        (H, N2) complex.
    P
        (r, H, N2) complex.

    Returns
    -------
    torch.Tensor
        (H, N, N) complex.
    """
    Pf = conj_pair(P)
    return torch.diag_embed(conj_pair(Lambda)) - torch.einsum("rhm,rhn->hmn", Pf, Pf.conj())


def roots_of_unity(L: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The points where an rfft evaluates a generating function: ω_k = exp(-2πi k / L), k = 0..L//2.

    Parameters
    ----------
    L
        The transform length.
    dtype, device
        Of the result (complex).

    Returns
    -------
    torch.Tensor
        (L//2 + 1,).
    """
    k = torch.arange(L // 2 + 1, device=device, dtype=torch.float64)
    return torch.exp(-2j * math.pi * k / L).to(dtype)


def nplr(Lambda, P, B, C_tilde, dt, L: int, backend: str = "auto") -> torch.Tensor:
    """S4 kernel of the DPLR system ``A = Λ - P P^*`` (bilinear discretisation), Algorithm 1.

    Λ, B, C̃ (H, N2) complex, P (r, H, N2) complex, dt (H,) real -> K (H, L) real.
    ``C̃ = C (I - Ā^L)`` (Sec. 3.3): at the roots of unity the truncated generating function is
    ``C̃ (I - Ā ω)^{-1} B̄ = 2/(1+ω) C̃ (g(ω) - A)^{-1} B`` with ``g(ω) = 2/Δ (1-ω)/(1+ω)``
    (Lemma C.3), and the Woodbury identity turns the DPLR resolvent into Cauchy products
    ``k_ab(ω) = Σ_n a_n b_n / (g(ω) - Λ_n) = Δ Σ_n a_n b_n / (2(1-ω)/(1+ω) - ΔΛ_n)``.

    Parameters
    ----------
    Lambda, B, C_tilde
        (H, N2) complex: one half of the conjugate pairs.
    P
        (r, H, N2) complex.
    dt
        (H,) real.
    L
        The kernel length (C̃ is stored for it).
    backend
        The Cauchy kernel's (:func:`~s4forecast.ssm.cauchy.cauchy`).

    Returns
    -------
    torch.Tensor
        K (H, L) real.
    """
    cdtype = Lambda.dtype
    omega = roots_of_unity(L, cdtype, Lambda.device)
    # ω = -1 (the Nyquist bin of an even L) makes g infinite; its value is computed in closed form below.
    finite = omega[:-1] if L % 2 == 0 else omega
    g = 2 * (1 - finite) / (1 + finite)
    left, right = [C_tilde, *P.conj()], [B, *P]  # C̃ and the Q^* = P^* rows; B and P columns (views, no copies)
    dt_c = dt.to(cdtype)[:, None]
    # the (r+1)^2 Cauchy sums of left_i right_j over the shared poles ΔΛ, (r+1, r+1, H, Lf); k_ab(ω) is Δ times them
    k = cauchy_products(left, right, g, dt_c * Lambda, backend=backend, conj=True).permute(2, 3, 0, 1)  # (H, Lf, r+1, r+1)
    (k00, k01), (k10, k11) = (row.split([1, P.shape[0]], -1) for row in k.split([1, P.shape[0]], -2))
    k01, k10, k11 = k01.contiguous(), k10.contiguous(), k11.contiguous()  # backward keeps these, not all of k
    inner = dt_c[..., None, None] * k11  # (H, Lf, r, r)
    if P.shape[0] == 1:  # rank 1 (HiPPO-LegS): a division; a batched LU of 1x1 systems costs ~5% of a layer's step
        correction = (k01 * k10 / (1 + inner))[..., 0, 0]
    else:
        eye = torch.eye(P.shape[0], dtype=cdtype, device=Lambda.device)
        correction = (k01 @ torch.linalg.solve(eye + inner, k10))[..., 0, 0]
    K_hat = 2 / (1 + finite) * dt_c * (k00[..., 0, 0] - dt_c * correction)
    if L % 2 == 0:
        # C̃ (I + Ā)^{-1} B̄ = Δ/2 C̃ B at ω = -1 (both Woodbury terms vanish there).
        nyquist = dt * (C_tilde * B).sum(-1).real
        K_hat = torch.cat([K_hat, nyquist[:, None].to(cdtype)], -1)
    return torch.fft.irfft(K_hat, n=L)


def diagonal(Lambda, B, C, dt, L: int, method: str = "zoh") -> torch.Tensor:
    """The S4D kernel ``K_l = 2 Re Σ_n C_n B̄_n Ā_n^l`` (a Vandermonde product).

    Parameters
    ----------
    Lambda, B, C
        (H, N2) complex.
    dt
        (H,) real.
    L
        The kernel length.
    method
        The discretisation, ``zoh`` or ``bilinear``.

    Returns
    -------
    torch.Tensor
        K (H, L) real.
    """
    A_bar, B_bar = discretize.diagonal(Lambda, B, dt.to(Lambda.dtype), method)
    log_A = dt.to(Lambda.dtype)[:, None] * Lambda if method == "zoh" else torch.log(A_bar)
    powers = torch.exp(log_A[..., None] * torch.arange(L, device=Lambda.device, dtype=Lambda.real.dtype))
    return 2 * torch.einsum("hn,hnl->hl", C * B_bar, powers).real


def dense(A, B, C, dt, L: int, method: str = "bilinear") -> torch.Tensor:
    """The reference kernel ``Re C Ā^l B̄`` by explicit powers (LSSL; O(N^2 L) per channel).

    Parameters
    ----------
    A
        (H, N, N).
    B, C
        (H, N).
    dt
        (H,).
    L
        The kernel length.
    method
        The discretisation, ``bilinear`` or ``zoh``.

    Returns
    -------
    torch.Tensor
        K (H, L) real.
    """
    A_bar, x = discretize.dense(A, B, dt.to(A.dtype), method)
    out = []
    for _ in range(L):
        out.append((C * x).sum(-1))
        x = (A_bar @ x[..., None])[..., 0]
    return torch.stack(out, -1).real
