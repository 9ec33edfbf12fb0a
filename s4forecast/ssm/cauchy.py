"""The Cauchy kernel ``k[..., l] = Σ_n v[..., n] / (z[l] - w[..., n])`` (S4 Sec. 3.3, Prop. 5).

Backends, looked up in one registry:

``naive``  broadcast (..., N, L) tensor; the slow, obvious reference (O(H N L) memory).
``torch``  pure PyTorch, chunked over L with a custom autograd Function so that neither forward
           nor backward keeps an (..., N, L) tensor: peak memory O(H (N + L_chunk)).
``keops``  pykeops ``Genred`` reduction on the tensors' own device (CPU or GPU); never materialises
           the (..., N, L) tensor either.
``auto``   the best available backend for the device, resolved once per device and logged once:
           keops wherever pykeops is installed (measured in benchmarks/kernels.py on 2 CPU cores:
           4-13x faster than ``torch`` over L = 1k..16k, and ~3x on a whole S4 training step),
           else torch.

With ``conj=True`` each term is added together with its conjugate pair,
``v/(z - w) + conj(v)/(z - conj(w))``: the N/2-state half of a real system evaluates the full one.
"""
from __future__ import annotations

import functools
import importlib.util
import logging
import math

import torch

log = logging.getLogger(__name__)

BACKENDS = ("auto", "naive", "torch", "keops")
CHUNK_ELEMENTS = 1 << 22  # complex elements of one (..., N, L_chunk) block in the torch backend


def _conj_pairs(v: torch.Tensor, w: torch.Tensor, conj: bool) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.cat([v, v.conj()], -1), torch.cat([w, w.conj()], -1)) if conj else (v, w)


def cauchy_naive(v: torch.Tensor, z: torch.Tensor, w: torch.Tensor, conj: bool = False) -> torch.Tensor:
    v, w = _conj_pairs(v, w, conj)
    return (v[..., None, :] / (z[:, None] - w[..., None, :])).sum(-1)


def _chunk_length(batch_n: int, L: int) -> int:
    return max(1, min(L, CHUNK_ELEMENTS // max(batch_n, 1)))


class _ChunkedCauchy(torch.autograd.Function):
    """Forward and backward both loop over chunks of z; only (..., N, chunk) is alive at a time.

    Gradients follow PyTorch's convention for complex tensors (grad = conj(∂f/∂x) · grad_out)::
        ∂k_l/∂v_n = 1/(z_l - w_n),  ∂k_l/∂w_n = v_n/(z_l - w_n)^2,  ∂k_l/∂z_l = -Σ_n v_n/(z_l - w_n)^2
    """

    @staticmethod
    def forward(ctx, v, z, w):
        ctx.save_for_backward(v, z, w)
        c = _chunk_length(v[..., 0].numel() * v.shape[-1], z.shape[0])
        return torch.cat([(v[..., None] / (zc - w[..., None])).sum(-2) for zc in z.split(c)], -1)

    @staticmethod
    def backward(ctx, grad):
        v, z, w = ctx.saved_tensors
        c = _chunk_length(v[..., 0].numel() * v.shape[-1], z.shape[0])
        gv = torch.zeros_like(v) if ctx.needs_input_grad[0] else None
        gw = torch.zeros_like(w) if ctx.needs_input_grad[2] else None
        gz = [] if ctx.needs_input_grad[1] else None
        for zc, gc in zip(z.split(c), grad.split(c, -1)):
            r = (1 / (zc - w[..., None])).conj()  # (..., N, c)
            if gv is not None:
                gv += (r * gc[..., None, :]).sum(-1)
            if gw is not None or gz is not None:
                r2 = v.conj()[..., None] * r * r * gc[..., None, :]
                if gw is not None:
                    gw += r2.sum(-1)
                if gz is not None:
                    gz.append(-r2.sum(-2).reshape(-1, zc.shape[0]).sum(0))
        return gv, (torch.cat(gz) if gz is not None else None), gw


def cauchy_torch(v: torch.Tensor, z: torch.Tensor, w: torch.Tensor, conj: bool = False) -> torch.Tensor:
    v, w = _conj_pairs(v, w, conj)
    return _ChunkedCauchy.apply(v, z, w)


def keops_available() -> bool:
    return importlib.util.find_spec("pykeops") is not None


@functools.cache
def _keops_reduction():
    from pykeops.torch import Genred

    return Genred("ComplexDivide(v, z - w)", ["v = Vj(2)", "z = Vi(2)", "w = Vj(2)"], reduction_op="Sum", axis=1)


def cauchy_keops(v: torch.Tensor, z: torch.Tensor, w: torch.Tensor, conj: bool = False) -> torch.Tensor:
    if not keops_available():
        raise RuntimeError("backend='keops' needs pykeops: pip install 's4forecast[keops]' (or pykeops)")
    v, w = _conj_pairs(v, w, conj)
    batch = v.shape[:-1]
    # (rows, N, 2) real pairs; z (1, L, 2) is broadcast over the rows by Genred's batch dimension.
    vr, wr = (torch.view_as_real(t.reshape(-1, t.shape[-1]).resolve_conj()).contiguous() for t in (v, w))
    zr = torch.view_as_real(z.resolve_conj())[None].contiguous()
    out = _keops_reduction()(vr, zr, wr, backend="auto")
    return torch.view_as_complex(out.contiguous()).reshape(*batch, z.shape[0])


_IMPLEMENTATIONS = {"naive": cauchy_naive, "torch": cauchy_torch, "keops": cauchy_keops}


@functools.cache
def resolve_backend(backend: str, device_type: str) -> str:
    """The concrete backend for a device. ``auto`` resolves once per device type and logs its choice."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown Cauchy backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if backend != "auto":
        if backend == "keops" and not keops_available():
            raise RuntimeError("backend='keops' needs pykeops: pip install 's4forecast[keops]'")
        return backend
    chosen = "keops" if keops_available() else "torch"
    log.info("Cauchy backend 'auto' on %s resolved to %r", device_type, chosen)
    return chosen


def cauchy(v: torch.Tensor, z: torch.Tensor, w: torch.Tensor, backend: str = "auto", conj: bool = False) -> torch.Tensor:
    """Cauchy kernel. v (..., N) and w (..., N) complex, z (L,) complex -> (..., L) complex."""
    if v.shape != w.shape or z.dim() != 1:
        raise ValueError(f"cauchy expects v (..., N), w (..., N) of equal shape and z (L,); got v {tuple(v.shape)}, w {tuple(w.shape)}, z {tuple(z.shape)}")
    if not (v.is_complex() and w.is_complex() and z.is_complex()):
        raise TypeError("cauchy expects complex v, z and w")
    return _IMPLEMENTATIONS[resolve_backend(backend, v.device.type)](v, z, w, conj)
