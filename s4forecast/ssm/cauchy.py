"""The Cauchy kernel ``k[..., l] = Σ_n v[..., n] / (z[l] - w[..., n])`` (S4 Sec. 3.3, Prop. 5).

Backends, looked up in one registry:

``naive``
    broadcast (..., N, L) tensor; the slow, obvious reference (O(H N L) memory).
``torch``
    pure PyTorch in real arithmetic, compiled with torch.compile where available, chunked over L under
    activation checkpointing so that neither forward nor backward keeps an (..., N, L) tensor: peak
    memory O(H (N + L_chunk)).
``keops``
    pykeops ``Genred`` reduction on the tensors' own device (CPU or GPU); never materialises the
    (..., N, L) tensor either.
``triton``
    a Triton kernel (forward and backward, real arithmetic): CUDA tensors, or CPU tensors under
    ``TRITON_INTERPRET=1`` (for verification only: the interpreter is slow).
``auto``
    the best available backend for the device (logged once): triton on CUDA, else keops, else torch
    (rule measured in benchmarks/kernels.py: see :func:`resolve_backend`).

With ``conj=True`` each term is added together with its conjugate pair,
``v/(z - w) + conj(v)/(z - conj(w))``: the N/2-state half of a real system evaluates the full one.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os

import torch
from torch.utils.checkpoint import checkpoint

from s4forecast.ssm.keops_probe import keops_runnable

log = logging.getLogger(__name__)

BACKENDS = ("auto", "naive", "torch", "keops", "triton")
CHUNK_ELEMENTS = 1 << 22  # elements of one (..., N, L_chunk) block in the torch backend


def _conj_pairs(v: torch.Tensor, w: torch.Tensor, conj: bool) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.cat([v, v.conj()], -1), torch.cat([w, w.conj()], -1)) if conj else (v, w)


def cauchy_naive(v: torch.Tensor, z: torch.Tensor, w: torch.Tensor, conj: bool = False) -> torch.Tensor:
    """The reference Cauchy kernel, through the broadcast (..., N, L) tensor.

    Parameters
    ----------
    v, w
        (..., N) complex: numerators and poles.
    z
        (L,) complex: the evaluation points.
    conj
        Each (v, w) also counts with its complex conjugate (the pairs of a real system).

    Returns
    -------
    torch.Tensor
        (..., L) complex.
    """
    v, w = _conj_pairs(v, w, conj)
    return (v[..., None, :] / (z[:, None] - w[..., None, :])).sum(-1)


def _pair_terms(a, b, c, d, x, y, conj: bool):
    """Σ_n of v/(z - w) (and its conjugate pair) in real arithmetic, v = a+ib, w = c+id (..., N, 1),
    z = x+iy (Lc,) -> (real, imag) each (..., Lc)."""
    p, q1 = x - c, y - d
    D1 = p * p + q1 * q1
    re, im = (a * p + b * q1) / D1, (b * p - a * q1) / D1
    if conj:
        q2 = y + d
        D2 = p * p + q2 * q2
        re, im = re + (a * p - b * q2) / D2, im - (b * p + a * q2) / D2
    return re.sum(-2), im.sum(-2)


@functools.cache
def _terms_fn():
    """``_pair_terms`` through torch.compile (measured ~5x faster forward on 2 CPU cores than eager
    complex broadcasting), or eager when disabled with ``S4FORECAST_COMPILE=0`` (read, never written)
    or after compilation failed once in this process."""
    if _COMPILE_FAILED or os.environ.get("S4FORECAST_COMPILE", "1") == "0":
        return _pair_terms
    return torch.compile(_pair_terms, dynamic=True)


_COMPILE_FAILED = False  # set once when torch.compile cannot run here (e.g. no C++ compiler)


def _chunk_length(elements_per_step: int, L: int) -> int:
    return max(1, min(L, CHUNK_ELEMENTS // max(elements_per_step, 1)))


def cauchy_torch(v: torch.Tensor, z: torch.Tensor, w: torch.Tensor, conj: bool = False) -> torch.Tensor:
    """The torch backend: chunks of z, each under activation checkpointing, so that backward recomputes one
    (..., N, chunk) block at a time and peak memory stays O(H (N + chunk)) in forward and backward; compiled,
    or eager (logged once) where compilation fails, e.g. without a C++ compiler.

    Parameters
    ----------
    v, w
        (..., N) complex: numerators and poles.
    z
        (L,) complex: the evaluation points.
    conj
        Each (v, w) also counts with its complex conjugate (the pairs of a real system).

    Returns
    -------
    torch.Tensor
        (..., L) complex.
    """
    a, b, c, d = v.real[..., None], v.imag[..., None], w.real[..., None], w.imag[..., None]
    size = _chunk_length(v.numel(), z.shape[0])

    def run(fn):
        parts = [checkpoint(fn, a, b, c, d, zc.real, zc.imag, conj, use_reentrant=False) for zc in z.split(size)]
        return torch.complex(torch.cat([p[0] for p in parts], -1), torch.cat([p[1] for p in parts], -1))

    fn = _terms_fn()
    if fn is _pair_terms:
        return run(fn)
    try:
        return run(fn)
    except torch._dynamo.exc.TorchDynamoException as e:
        global _COMPILE_FAILED
        log.warning("torch.compile is unavailable here (%s); the torch Cauchy backend runs eagerly", type(e).__name__)
        _COMPILE_FAILED = True
        _terms_fn.cache_clear()
        return run(_pair_terms)


def keops_available() -> bool:
    """Whether pykeops is installed (not whether it can compile: see :func:`keops_runnable`).

    Returns
    -------
    bool
    """
    return importlib.util.find_spec("pykeops") is not None


def triton_available(device_type: str) -> bool:
    """Whether the Triton kernel can run on a device: CUDA, or CPU under ``TRITON_INTERPRET=1``.

    Parameters
    ----------
    device_type
        ``cuda``, ``cpu``, ...

    Returns
    -------
    bool
    """
    if importlib.util.find_spec("triton") is None:
        return False
    from s4forecast.ssm.cauchy_triton import runnable

    return runnable(device_type)


def cauchy_triton(v, z, w, conj=False):
    """The Triton backend (``cauchy_triton.py``), imported on first use.

    Parameters
    ----------
    v, w
        (..., N) complex: numerators and poles.
    z
        (L,) complex: the evaluation points.
    conj
        Each (v, w) also counts with its complex conjugate (the pairs of a real system).

    Returns
    -------
    torch.Tensor
        (..., L) complex.
    """
    from s4forecast.ssm.cauchy_triton import cauchy_triton as run

    return run(v, z, w, conj)


@functools.cache
def _keops_reduction(conj: bool):
    from pykeops.torch import Genred

    # Complex numbers as 2-vectors; with conj the pair term is part of the formula (no concatenated copies).
    formula = "ComplexDivide(v, z - w) + ComplexDivide(Conj(v), z - Conj(w))" if conj else "ComplexDivide(v, z - w)"
    return Genred(formula, ["v = Vj(2)", "z = Vi(2)", "w = Vj(2)"], reduction_op="Sum", axis=1)


def cauchy_keops(v: torch.Tensor, z: torch.Tensor, w: torch.Tensor, conj: bool = False) -> torch.Tensor:
    """The KeOps backend; v and w may have broadcastable batch shapes (w shared over leading dims of v is
    never copied: KeOps broadcasts batch dimensions and sums the gradient over them).

    Parameters
    ----------
    v, w
        (..., N) complex: numerators and poles.
    z
        (L,) complex: the evaluation points.
    conj
        Each (v, w) also counts with its complex conjugate (the pairs of a real system).

    Returns
    -------
    torch.Tensor
        (..., L) complex.
    """
    if not keops_available():
        raise RuntimeError("backend='keops' needs pykeops: pip install 's4forecast[keops]' (or pykeops)")
    batch = torch.broadcast_shapes(v.shape[:-1], w.shape[:-1])

    def pairs(t: torch.Tensor) -> torch.Tensor:  # (..., N) complex -> (batch dims aligned, N, 2) real
        t = t.reshape((1,) * (len(batch) + 1 - t.dim()) + t.shape)
        return torch.view_as_real(t.resolve_conj()).contiguous()

    zr = torch.view_as_real(z.resolve_conj()).reshape((1,) * len(batch) + (z.shape[0], 2)).contiguous()
    out = _keops_reduction(conj)(pairs(v), zr, pairs(w), backend="auto")
    return torch.view_as_complex(out.contiguous())


_IMPLEMENTATIONS = {"naive": cauchy_naive, "torch": cauchy_torch, "keops": cauchy_keops, "triton": cauchy_triton}


def resolve_backend(backend: str, device_type: str) -> str:
    """The concrete backend for a device; ``auto``'s choice is logged once per device.

    ``auto``: triton on CUDA; elsewhere keops where installed and runnable (``keops_probe.py``), else torch. Measured on one CPU thread
    for the S4 kernel's case (benchmarks/results/kernels_shared.md: the 4 Woodbury sums of
    :func:`cauchy_products`, H=256, N=64): keops 55 / 233 ms forward and 158 / 585 ms forward+backward
    at L = 1024 / 4096, against compiled torch 253 / 1071 and 813 / 3573 ms; keops also caches its
    compiled kernels on disk.

    Parameters
    ----------
    backend
        One of ``BACKENDS``.
    device_type
        Where the kernel runs (``cpu``, ``cuda``).

    Returns
    -------
    str
        The backend that runs; an explicit one that cannot run here is an error that says why.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown Cauchy backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if backend != "auto":
        return _check_explicit(backend, device_type)
    if device_type == "cuda" and triton_available(device_type):
        chosen = "triton"  # no build step, any N and L
    else:
        chosen = "keops" if keops_available() and keops_runnable()[0] else "torch"
    _log_choice(device_type, chosen)
    return chosen


@functools.cache
def _check_explicit(backend: str, device_type: str) -> str:
    if backend == "keops" and not keops_available():
        raise RuntimeError("backend='keops' needs pykeops: pip install 's4forecast[keops]'")
    if backend == "keops" and not (runs := keops_runnable())[0]:
        raise RuntimeError(f"backend='keops': pykeops cannot run on this machine ({runs[1]}); use backend='torch' or 'auto'")
    if backend == "triton" and not triton_available(device_type):
        raise RuntimeError(
            f"backend='triton' needs the triton package and a CUDA device (got {device_type!r}); "
            "on the CPU it runs only under TRITON_INTERPRET=1, for testing"
        )
    return backend


@functools.cache
def _log_choice(device_type: str, chosen: str) -> None:
    log.info("Cauchy backend 'auto' on %s resolved to %r", device_type, chosen)


class _SharedCauchy(torch.autograd.Function):
    """k = v r1 (+ conj(v) r2) with the Cauchy matrices r1 = 1/(z - w), r2 = 1/(z - conj w) formed
    once per chunk of z and recomputed in backward (memory O(... N chunk)). v (..., K, N),
    w (..., N), z (L,) -> (..., K, L). Gradients (PyTorch's convention, G = grad of k):
        grad_v = G r1^H + conj(G) r2^T
        grad_w = Σ_l conj(r1)^2 ⊙ (v^H G) + r2^2 ⊙ conj(v^T G)
    """

    @staticmethod
    def forward(ctx, v, w, z, conj, size):
        ctx.save_for_backward(v, w, z)
        ctx.conj, ctx.size = conj, size
        parts = []
        for zc in z.split(size):
            out = v @ (1 / (zc - w[..., None]))
            parts.append(out + v.conj() @ (1 / (zc - w.conj()[..., None])) if conj else out)
        return torch.cat(parts, -1)

    @staticmethod
    def backward(ctx, grad):
        v, w, z = ctx.saved_tensors
        gv, gw = torch.zeros_like(v), torch.zeros_like(w)
        for zc, G in zip(z.split(ctx.size), grad.split(ctx.size, -1)):
            r1 = 1 / (zc - w[..., None])
            gv += G @ r1.mT.conj()
            gw += (r1.conj() ** 2 * (v.mH @ G)).sum(-1)
            if ctx.conj:
                r2 = 1 / (zc - w.conj()[..., None])
                gv += G.conj() @ r2.mT
                gw += (r2**2 * (v.mT @ G).conj()).sum(-1)
        return gv, gw, None, None, None


def cauchy_shared(v: torch.Tensor, z: torch.Tensor, w: torch.Tensor, backend: str = "auto", conj: bool = False) -> torch.Tensor:
    """K Cauchy sums over the same poles: v (K, ..., N), w (..., N), z (L,) -> (K, ..., L).

    The S4 kernel needs (r+1)^2 of them (Woodbury, Algorithm 1). ``torch`` forms the Cauchy matrix
    1/(z - w) once per chunk of z and contracts all K vectors with one complex matmul (memory
    O(H N chunk) in forward and backward). keops runs the K sums with w broadcast over K (no copies)
    and is the faster of the two on the CPU (see :func:`resolve_backend`); other backends run the K
    sums on an expanded w.

    Parameters
    ----------
    v
        (K, ..., N) complex: K numerator vectors.
    z
        (L,) complex.
    w
        (..., N) complex: the shared poles.
    backend
        One of ``BACKENDS``.
    conj
        Count each pair's conjugate too.

    Returns
    -------
    torch.Tensor
        (K, ..., L) complex.
    """
    if v.shape[1:] != w.shape or z.dim() != 1:
        raise ValueError(
            f"cauchy_shared expects v (K, ..., N), w (..., N), z (L,); got v {tuple(v.shape)}, "
            f"w {tuple(w.shape)}, z {tuple(z.shape)}"
        )
    chosen = resolve_backend(backend, v.device.type)
    if chosen == "keops":
        return cauchy_keops(v, z, w, conj)  # broadcasts w over K without copies
    if chosen != "torch":
        return cauchy(v, z, w.expand_as(v), backend=chosen, conj=conj)
    if z.requires_grad:
        raise ValueError("cauchy_shared does not differentiate with respect to z; use cauchy(backend='torch')")
    size = _chunk_length(w.numel(), z.shape[0])
    return _SharedCauchy.apply(v.movedim(0, -2), w, z, conj, size).movedim(-2, 0)


# KeOps formulas of the Cauchy factors r1 = 1/(z - w), its conjugate, and r2 = 1/(z - conj w), each as
# conj(d)/|d|^2 (complex numbers as 2-vectors): one reciprocal shared by all the sums of a term.
_R1 = "ComplexRealScal(Conj(z - w), Inv(ComplexSquareAbs(z - w)))"
_R1_CONJ = "ComplexRealScal(z - w, Inv(ComplexSquareAbs(z - w)))"
_R2 = "ComplexRealScal(Conj(z - Conj(w)), Inv(ComplexSquareAbs(z - Conj(w))))"


def _operand(name: str, k: int, conjugated: bool) -> str:
    """KeOps expression of operand k of a side; ``conjugated``: the variable holds its conjugate."""
    return f"Conj({name}{k})" if conjugated else f"{name}{k}"


def _keops_products_formula(a_conj: tuple[bool, ...], b_conj: tuple[bool, ...], conj: bool) -> str:
    """Σ_n a_i b_j r1 (+ conj(a_i b_j) r2) for every (i, j), concatenated: output 2RS reals."""
    r1, r2 = _R1, _R2
    terms = []
    for i, ca in enumerate(a_conj):
        for j, cb in enumerate(b_conj):
            v = f"ComplexMult({_operand('a', i, ca)}, {_operand('b', j, cb)})"
            terms.append(f"ComplexMult({v}, {r1}) + ComplexMult(Conj({v}), {r2})" if conj else f"ComplexMult({v}, {r1})")
    return functools.reduce(lambda f, t: f"Concat({f}, {t})", terms)


def _keops_products_grad_formula(a_conj: tuple[bool, ...], b_conj: tuple[bool, ...], conj: bool) -> str:
    """Per pole, the gradients of the (i, j) sums w.r.t. a_i, b_j and w as one reduction over z
    (see _KeopsProducts): output R + S + 1 complex numbers, grad_a then grad_b then grad_w."""
    R, S = len(a_conj), len(b_conj)
    a = [_operand("a", i, c) for i, c in enumerate(a_conj)]
    b = [_operand("b", j, c) for j, c in enumerate(b_conj)]
    c1, r2 = _R1_CONJ, _R2
    t1, t2 = {}, {}
    for i in range(R):
        for j in range(S):
            G = f"Extract(G, {2 * (i * S + j)}, 2)"
            t1[i, j], t2[i, j] = f"ComplexMult({G}, {c1})", f"ComplexMult({G}, ComplexMult({c1}, {c1}))"
            if conj:
                t1[i, j] += f" + ComplexMult(Conj({G}), {r2})"
                t2[i, j] += f" + ComplexMult(Conj({G}), ComplexMult({r2}, {r2}))"

    def total(terms):
        return functools.reduce(lambda f, t: f"{f} + {t}", terms)

    grad_a = [total(f"ComplexMult({t1[i, j]}, Conj({b[j]}))" for j in range(S)) for i in range(R)]
    grad_b = [total(f"ComplexMult({t1[i, j]}, Conj({a[i]}))" for i in range(R)) for j in range(S)]
    grad_w = total(f"ComplexMult({t2[i, j]}, Conj(ComplexMult({a[i]}, {b[j]})))" for i in range(R) for j in range(S))
    return functools.reduce(lambda f, t: f"Concat({f}, {t})", grad_a + grad_b + [grad_w])


@functools.cache
def _keops_products_reductions(a_conj: tuple[bool, ...], b_conj: tuple[bool, ...], conj: bool):
    from pykeops.torch import Genred

    R, S = len(a_conj), len(b_conj)
    operands = [f"a{i} = Vj(2)" for i in range(R)] + [f"b{j} = Vj(2)" for j in range(S)] + ["w = Vj(2)"]
    forward = Genred(_keops_products_formula(a_conj, b_conj, conj), operands + ["z = Vi(2)"], reduction_op="Sum", axis=1)
    backward = Genred(
        _keops_products_grad_formula(a_conj, b_conj, conj),
        [f"G = Vi({2 * R * S})", "z = Vi(2)"] + operands,
        reduction_op="Sum",
        axis=0,
    )
    return forward, backward


def _keops_operand(t: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """(B, N) complex -> its (B, N, 2) real storage and whether that storage holds the conjugate.
    A parameter's complex view or a lazy conjugate of one is read in place, without a copy."""
    return torch.view_as_real(t.conj() if t.is_conj() else t).contiguous(), t.is_conj()


class _KeopsProducts(torch.autograd.Function):
    """k_ij = Σ_n a_i b_j r1 (+ conj(a_i b_j) r2), r1 = 1/(z - w), r2 = 1/(z - conj w), in one KeOps
    reduction that never forms the products v_ij = a_i b_j. R operands a_i (B, N), S operands b_j
    (B, N), w (B, N), z (L,) -> (R, S, B, L). Backward (PyTorch's convention, G_ij the grad of k_ij)
    needs, per pole, only
        T1_ij = Σ_l G_ij conj(r1) + conj(G_ij) r2,   T2_ij = Σ_l G_ij conj(r1)^2 + conj(G_ij) r2^2
    (one more reduction, over z): grad_v_ij = T1_ij, so grad_a_i = Σ_j T1_ij conj(b_j),
    grad_b_j = Σ_i T1_ij conj(a_i), and grad_w = Σ_ij conj(v_ij) T2_ij. a, b and w are constant in
    that reduction, so it yields these R + S + 1 gradients per pole directly: no T buffer, no (R, S)
    loop. Operands are read in place (conjugate views included), so the only buffers are the
    output, G and the gradients.
    """

    @staticmethod
    def forward(ctx, z, conj, R, *operands):  # operands: a_0..a_{R-1}, b_0..b_{S-1}, w
        B, L = operands[-1].shape[0], z.shape[0]
        real, flags = zip(*(_keops_operand(t) for t in operands))
        a_conj, b_conj = flags[:R], flags[R:-1]
        reduce_n, _ = _keops_products_reductions(a_conj, b_conj, conj)
        zr = torch.view_as_real(z.resolve_conj()).reshape(1, L, 2).contiguous()
        out = reduce_n(*real, zr, backend="auto")  # (B, L, 2RS)
        ctx.save_for_backward(zr, *real)
        ctx.key = a_conj, b_conj, conj
        return torch.view_as_complex(out.reshape(B, L, len(a_conj), len(b_conj), 2)).permute(2, 3, 0, 1)

    @staticmethod
    def backward(ctx, grad):
        zr, *real = ctx.saved_tensors
        _, reduce_l = _keops_products_reductions(*ctx.key)
        G = torch.view_as_real(grad.resolve_conj().permute(2, 3, 0, 1).contiguous()).flatten(-3)  # (B, L, 2RS)
        grads = torch.view_as_complex(reduce_l(G, zr, *real, backend="auto").unflatten(-1, (-1, 2)))
        return (None, None, None, *grads.unbind(-1))  # (B, N) each: a_i, b_j, w


def cauchy_products(left, right, z: torch.Tensor, w: torch.Tensor, backend: str = "auto", conj: bool = False) -> torch.Tensor:
    """All Cauchy sums ``k_ij[l] = Σ_n left_i,n right_j,n / (z_l - w_n)`` over shared poles.

    left (R, ..., N) or a sequence of R (..., N) tensors, right likewise with S, w (..., N), z (L,)
    complex -> (R, S, ..., L). The S4 kernel's Woodbury terms (Algorithm 1) are the (r+1)^2 products
    of (C̃, Q^*) with (B, P). keops evaluates them in one reduction without forming the R·S product
    vectors and reads sequence members in place, conjugate views included (forward and backward:
    see :class:`_KeopsProducts`); the other backends form the products and call :func:`cauchy_shared`.

    Parameters
    ----------
    left, right
        (R, ..., N) and (S, ..., N) complex, or sequences of R and S (..., N) tensors.
    z
        (L,) complex.
    w
        (..., N) complex: the shared poles.
    backend
        One of ``BACKENDS``.
    conj
        Count each pair's conjugate too.

    Returns
    -------
    torch.Tensor
        (R, S, ..., L) complex.
    """
    lefts, rights = list(left), list(right)
    if any(t.shape != w.shape for t in lefts + rights) or z.dim() != 1:
        raise ValueError(
            f"cauchy_products expects left (R, ..., N), right (S, ..., N), w (..., N), z (L,); got left "
            f"{[tuple(t.shape) for t in lefts]}, right {[tuple(t.shape) for t in rights]}, w {tuple(w.shape)}, "
            f"z {tuple(z.shape)}"
        )
    R, S = len(lefts), len(rights)
    # the fused backward has no gradient for z; a differentiable z goes through cauchy_shared
    if resolve_backend(backend, w.device.type) == "keops" and not z.requires_grad:
        flat = [t.reshape(-1, w.shape[-1]) for t in lefts + rights + [w]]
        return _KeopsProducts.apply(z, conj, R, *flat).reshape(R, S, *w.shape[:-1], z.shape[0])
    v = torch.stack([a * b for a in lefts for b in rights])
    return cauchy_shared(v, z, w, backend=backend, conj=conj).reshape(R, S, *w.shape[:-1], z.shape[0])


def cauchy(v: torch.Tensor, z: torch.Tensor, w: torch.Tensor, backend: str = "auto", conj: bool = False) -> torch.Tensor:
    """The Cauchy kernel ``k(z_l) = Σ_n v_n / (z_l - w_n)`` (S4 Sec. 3.3, Lemma C.3's core), by ``backend``.

    Parameters
    ----------
    v, w
        (..., N) complex of the same shape: numerators and poles.
    z
        (L,) complex: the evaluation points.
    backend
        ``auto`` (triton on CUDA, keops where it compiles, else torch), ``torch``, ``keops``, ``triton`` or
        ``naive`` (the O(N L)-memory reference); an explicit backend that cannot run here is an error that
        says why.
    conj
        Add each pole's conjugate pair, ``v_n / (z - w_n) + conj(v_n) / (z - conj(w_n))``, from the N stored
        halves.

    Returns
    -------
    torch.Tensor
        (..., L) complex.

    Raises
    ------
    ValueError, TypeError
        Shapes that do not fit, or real inputs.
    """
    if v.shape != w.shape or z.dim() != 1:
        raise ValueError(
            f"cauchy expects v (..., N), w (..., N) of equal shape and z (L,); got v {tuple(v.shape)}, w {tuple(w.shape)}, z {tuple(z.shape)}"
        )
    if not (v.is_complex() and w.is_complex() and z.is_complex()):
        raise TypeError("cauchy expects complex v, z and w")
    return _IMPLEMENTATIONS[resolve_backend(backend, v.device.type)](v, z, w, conj)
