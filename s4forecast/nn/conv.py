"""The S4 layer's convolution y = K * u (S4 eq. 5): by FFT with zero padding (no circular wrap-around,
Sec. 3.3) for long sequences, as one Toeplitz matrix product for short ones.

u (B, H, L) real, k (H, L) causal or (2, H, L) bidirectional -> y (B, H, L).

Both compute the same sums. The direct product costs O(B H L^2) against the FFT's O(B H L log L) but
runs as one batched matmul instead of six FFTs (forward and backward), so it is faster at the short
lengths S4 over patches leaves (L = 27 for 336 + 96 steps in patches of 16): measured on one CPU thread
in benchmarks/results/conv_crossover.md, which sets :data:`DIRECT_MAX_LEN`.
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


DIRECT_MAX_LEN = 64  # longest L convolved directly by `conv`: faster than FFT at every shape measured up to 64 (benchmarks/results/conv_crossover.md)


def _circular_kernel(k: torch.Tensor, L: int) -> torch.Tensor:
    """k (H, L) causal or (2, H, L) bidirectional -> (H, m), m <= 2L, whose circular convolution of
    length 2L with the zero-padded input, cut to L, is the layer's output."""
    if k.dim() == 3:
        return F.pad(k[0], (0, L)) + F.pad(k[1].flip(-1), (L, 0))
    return k


def fft_conv(u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """The convolution by FFT with zero padding: ``y[t] = Σ_{j<=t} k[j] u[t-j]`` (causal); with k (2, H, L)
    the second kernel also reads the future, ``+ Σ_{j>=0} k[1, j] u[t+1+j]``, as in the bidirectional S4.

    Parameters
    ----------
    u
        (B, H, L) real.
    k
        (H, L) causal or (2, H, L) bidirectional.

    Returns
    -------
    torch.Tensor
        y (B, H, L).
    """
    L = u.shape[-1]
    return _PaddedConv.apply(u, _circular_kernel(k, L), 2 * L)


def direct_conv(u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """The sums of :func:`fft_conv` as ``y[b, h] = T_h u[b, h]`` with the (L, L) Toeplitz matrix
    ``T_h[t, s] = k̄[h, (t - s) mod 2L]`` of the circular kernel k̄, one batched matmul over h. T is a
    strided view of the 2L - 1 kernel values it holds (unfold, not a gather: ~30% faster forward and
    backward at L = 27, whose gather backward is a scatter); autograd's matmul backward gives the
    gradients of u and k. It runs in the inputs' dtype under autocast too, as the FFT does (the layer
    keeps its convolution in at least float32).

    Parameters
    ----------
    u
        (B, H, L) real.
    k
        (H, L) causal or (2, H, L) bidirectional.

    Returns
    -------
    torch.Tensor
        y (B, H, L).
    """
    L = u.shape[-1]
    k = _circular_kernel(k, L)
    k = F.pad(k, (0, 2 * L - k.shape[-1]))
    lags = torch.cat([k[:, L + 1 :], k[:, :L]], -1)  # (H, 2L - 1): lags[j] = k̄[(j - L + 1) mod 2L]
    toeplitz_t = lags.unfold(-1, L, 1).flip(-2)  # (H, L_in, L_out): [h, s, t] = lags[L - 1 - s + t] = T_h[t, s]
    with torch.autocast(u.device.type, enabled=False):
        return torch.bmm(u.transpose(0, 1), toeplitz_t).transpose(0, 1)


CONVOLUTIONS = ("auto", "fft", "direct")


def conv(u: torch.Tensor, k: torch.Tensor, method: str = "auto") -> torch.Tensor:
    """The layer's convolution y = K * u (S4 eq. 5).

    Parameters
    ----------
    u
        (B, H, L) real.
    k
        (H, L) causal or (2, H, L) bidirectional.
    method
        ``fft``, ``direct``, or ``auto`` (:func:`direct_conv` up to :data:`DIRECT_MAX_LEN` positions, else
        :func:`fft_conv`).

    Returns
    -------
    torch.Tensor
        y (B, H, L).
    """
    if method == "direct" or (method == "auto" and u.shape[-1] <= DIRECT_MAX_LEN):
        return direct_conv(u, k)
    return fft_conv(u, k)
