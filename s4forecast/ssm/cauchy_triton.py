"""Triton Cauchy kernel: no build step, any N and L, real arithmetic, forward and backward.

Runs on CUDA tensors, or on CPU tensors under Triton's interpreter (``TRITON_INTERPRET=1``, slow:
for verification). With ``v = a + ib``, ``w = c + id``, ``z = x + iy``, ``p = x - c``,
``q1 = y - d`` and (conjugate pair) ``q2 = y + d``::

    v/(z - w)             = ((a p + b q1) + i (b p - a q1)) / (p² + q1²)
    conj(v)/(z - conj(w)) = ((a p - b q2) - i (b p + a q2)) / (p² + q2²)

Gradients follow PyTorch's convention for complex inputs, ``grad = G conj(∂k/∂x) + conj(G) ∂k/∂conj(x)``:
``grad_v = Σ_l G conj(r1) + conj(G) r2`` and ``grad_w = Σ_l conj(v) (G conj(r1)² + conj(G) r2²)``
with ``r1 = 1/(z - w)``, ``r2 = 1/(z - conj w)``. Both kernels keep only (BLOCK_N, BLOCK_L) tiles.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl


def runnable(device_type: str) -> bool:
    return device_type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


@triton.jit
def _forward(
    v_re, v_im, w_re, w_im, z_re, z_im, out_re, out_im, N, L, CONJ: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr
):
    row = tl.program_id(0)
    offs_l = tl.program_id(1) * BLOCK_L + tl.arange(0, BLOCK_L)
    mask_l = offs_l < L
    x = tl.load(z_re + offs_l, mask=mask_l, other=1.0)
    y = tl.load(z_im + offs_l, mask=mask_l, other=0.0)
    acc_re = tl.zeros([BLOCK_L], dtype=x.dtype)
    acc_im = tl.zeros([BLOCK_L], dtype=x.dtype)
    for n0 in range(0, N, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        mask_n = offs_n < N
        a = tl.load(v_re + row * N + offs_n, mask=mask_n, other=0.0)[:, None]
        b = tl.load(v_im + row * N + offs_n, mask=mask_n, other=0.0)[:, None]
        c = tl.load(w_re + row * N + offs_n, mask=mask_n, other=0.0)[:, None]
        d = tl.load(w_im + row * N + offs_n, mask=mask_n, other=0.0)[:, None]
        p = x[None, :] - c
        q1 = y[None, :] - d
        D1 = p * p + q1 * q1
        re = (a * p + b * q1) / D1
        im = (b * p - a * q1) / D1
        if CONJ:
            q2 = y[None, :] + d
            D2 = p * p + q2 * q2
            re += (a * p - b * q2) / D2
            im -= (b * p + a * q2) / D2
        keep = mask_n[:, None] & mask_l[None, :]
        acc_re += tl.sum(tl.where(keep, re, 0.0), axis=0)
        acc_im += tl.sum(tl.where(keep, im, 0.0), axis=0)
    tl.store(out_re + row * L + offs_l, acc_re, mask=mask_l)
    tl.store(out_im + row * L + offs_l, acc_im, mask=mask_l)


@triton.jit
def _backward(
    v_re,
    v_im,
    w_re,
    w_im,
    z_re,
    z_im,
    g_re,
    g_im,
    gv_re,
    gv_im,
    gw_re,
    gw_im,
    N,
    L,
    CONJ: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_L: tl.constexpr,
):
    row = tl.program_id(0)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_n = offs_n < N
    a = tl.load(v_re + row * N + offs_n, mask=mask_n, other=0.0)
    b = tl.load(v_im + row * N + offs_n, mask=mask_n, other=0.0)
    c = tl.load(w_re + row * N + offs_n, mask=mask_n, other=0.0)[:, None]
    d = tl.load(w_im + row * N + offs_n, mask=mask_n, other=0.0)[:, None]
    acc_v_re = tl.zeros([BLOCK_N], dtype=a.dtype)
    acc_v_im = tl.zeros([BLOCK_N], dtype=a.dtype)
    acc_u_re = tl.zeros([BLOCK_N], dtype=a.dtype)
    acc_u_im = tl.zeros([BLOCK_N], dtype=a.dtype)
    for l0 in range(0, L, BLOCK_L):
        offs_l = l0 + tl.arange(0, BLOCK_L)
        mask_l = offs_l < L
        x = tl.load(z_re + offs_l, mask=mask_l, other=1.0)[None, :]
        y = tl.load(z_im + offs_l, mask=mask_l, other=0.0)[None, :]
        gr = tl.load(g_re + row * L + offs_l, mask=mask_l, other=0.0)[None, :]
        gi = tl.load(g_im + row * L + offs_l, mask=mask_l, other=0.0)[None, :]
        p = x - c
        q1 = y - d
        D1 = p * p + q1 * q1
        t_re = (gr * p - gi * q1) / D1  # G conj(r1)
        t_im = (gr * q1 + gi * p) / D1
        s_re = (p * p - q1 * q1) / (D1 * D1)  # conj(r1)^2
        s_im = 2 * p * q1 / (D1 * D1)
        u_re = gr * s_re - gi * s_im  # G conj(r1)^2
        u_im = gr * s_im + gi * s_re
        if CONJ:
            q2 = y + d
            D2 = p * p + q2 * q2
            t_re += (gr * p - gi * q2) / D2  # conj(G) r2
            t_im -= (gr * q2 + gi * p) / D2
            s2_re = (p * p - q2 * q2) / (D2 * D2)  # r2^2
            s2_im = -2 * p * q2 / (D2 * D2)
            u_re += gr * s2_re + gi * s2_im  # conj(G) r2^2
            u_im += gr * s2_im - gi * s2_re
        keep = mask_n[:, None] & mask_l[None, :]
        acc_v_re += tl.sum(tl.where(keep, t_re, 0.0), axis=1)
        acc_v_im += tl.sum(tl.where(keep, t_im, 0.0), axis=1)
        acc_u_re += tl.sum(tl.where(keep, u_re, 0.0), axis=1)
        acc_u_im += tl.sum(tl.where(keep, u_im, 0.0), axis=1)
    tl.store(gv_re + row * N + offs_n, acc_v_re, mask=mask_n)
    tl.store(gv_im + row * N + offs_n, acc_v_im, mask=mask_n)
    tl.store(gw_re + row * N + offs_n, a * acc_u_re + b * acc_u_im, mask=mask_n)  # conj(v) * u
    tl.store(gw_im + row * N + offs_n, a * acc_u_im - b * acc_u_re, mask=mask_n)


BLOCK_N, BLOCK_L = 32, 64


def _parts(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return t.real.contiguous(), t.imag.contiguous()


class TritonCauchy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v, z, w, conj: bool):
        rows, N, L = v.shape[0], v.shape[1], z.shape[0]
        args = (*_parts(v), *_parts(w), *_parts(z))
        out_re = torch.empty(rows, L, dtype=v.real.dtype, device=v.device)
        out_im = torch.empty_like(out_re)
        _forward[(rows, triton.cdiv(L, BLOCK_L))](*args, out_re, out_im, N, L, CONJ=conj, BLOCK_N=BLOCK_N, BLOCK_L=BLOCK_L)
        ctx.save_for_backward(v, z, w)
        ctx.conj = conj
        return torch.complex(out_re, out_im)

    @staticmethod
    def backward(ctx, grad):
        v, z, w = ctx.saved_tensors
        rows, N, L = v.shape[0], v.shape[1], z.shape[0]
        grads = [torch.empty(rows, N, dtype=v.real.dtype, device=v.device) for _ in range(4)]
        _backward[(rows, triton.cdiv(N, BLOCK_N))](
            *_parts(v), *_parts(w), *_parts(z), *_parts(grad), *grads, N, L, CONJ=ctx.conj, BLOCK_N=BLOCK_N, BLOCK_L=BLOCK_L
        )
        return torch.complex(grads[0], grads[1]), None, torch.complex(grads[2], grads[3]), None


def cauchy_triton(v: torch.Tensor, z: torch.Tensor, w: torch.Tensor, conj: bool = False) -> torch.Tensor:
    if z.requires_grad:
        raise ValueError("backend='triton' does not differentiate with respect to z; use backend='torch'")
    batch = v.shape[:-1]
    out = TritonCauchy.apply(v.reshape(-1, v.shape[-1]), z, w.reshape(-1, w.shape[-1]), conj)
    return out.reshape(*batch, z.shape[0])
