"""Parameterised SSMs of H independent channels, one class per kernel mode.

Each holds the learned continuous-time parameters (Λ, P, B, C, Δ) and exposes the two views of
the same system (S4 Sec. 2): ``conv_kernel(L)`` -> (H, L) and the recurrent
``setup_step() / default_state(B) / step(u, x)``, plus ``ssm_matrices()``: the dense full-state
continuous system (A (H, N, N), B (H, N), C (H, N), dt (H,)) that both views discretise.

Complex parameters are stored as real (..., 2) tensors so that every optimiser and
``Module.to(dtype)`` handles them. The real part of Λ is ``-exp(·)``: negative by construction.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import torch
from torch import nn

from s4forecast.ssm import discretize, hippo, kernels, recurrence
from s4forecast.ssm.snapshot import ValueSnapshot

MODES = ("nplr", "diag", "dense")


def _complex(p: torch.Tensor) -> torch.Tensor:
    return torch.view_as_complex(p)


def _real_param(x: np.ndarray | torch.Tensor) -> nn.Parameter:
    x = torch.as_tensor(x)
    return nn.Parameter(torch.view_as_real(x.to(torch.complex128)).float().contiguous() if x.is_complex() else x.float())


def _tile(x: np.ndarray, H: int) -> np.ndarray:
    return np.broadcast_to(x, (H,) + x.shape).copy()


class SSM(nn.Module):
    """Common part: per-channel step size Δ, log-uniform in [dt_min, dt_max] at init (S4 App. D.2).

    ``rate`` multiplies Δ: a model trained at one sampling rate runs at another (S4 Sec. 4.3).

    Parameters
    ----------
    d_model
        H, the number of channels (independent SSMs).
    d_state
        N, the state size.
    dt_min, dt_max
        The log-uniform range of the initial Δ.
    discretization
        ``bilinear`` or ``zoh``.
    """

    def __init__(self, d_model: int, d_state: int, dt_min: float, dt_max: float, discretization: str):
        super().__init__()
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max; got dt_min={dt_min}, dt_max={dt_max}")
        if d_model < 1 or d_state < 1:
            raise ValueError(f"d_model and d_state must be positive; got {d_model}, {d_state}")
        discretize.check_discretization(discretization)
        self.H, self.N, self.discretization = d_model, d_state, discretization
        u = torch.rand(d_model, dtype=torch.float64)
        self.log_dt = nn.Parameter((math.log(dt_min) + u * (math.log(dt_max) - math.log(dt_min))).float())
        self._step_fn = None
        self._step_snapshot = None  # the parameter values the step operators were made from

    def dt(self, rate: float = 1.0) -> torch.Tensor:
        """Each channel's step size.

        Parameters
        ----------
        rate
            Multiplies Δ (S4 Sec. 4.3).

        Returns
        -------
        torch.Tensor
            Δ (H,).
        """
        return torch.exp(self.log_dt) * rate

    # -- recurrent view ----------------------------------------------------------------------
    def setup_step(self, rate: float = 1.0) -> None:
        """Precompute the discrete step operators from the current parameters (no gradient).

        Parameters
        ----------
        rate
            Multiplies Δ.
        """
        with torch.no_grad():
            self._step_fn = self.recurrence(rate)
        self._step_snapshot = ValueSnapshot(self)

    def recurrence(self, rate: float = 1.0):
        """The step operator of the recurrent view (S4 eq. 3) from the current parameters, with autograd (to
        train through a recurrence: the closed-loop decoder); :meth:`setup_step` keeps one without gradient.

        Parameters
        ----------
        rate
            Multiplies Δ.

        Returns
        -------
        callable
            ``op(u (B, H), x (B, H, N_state)) -> (y (B, H), new x)``.
        """
        return self._make_step(rate)

    def default_state(self, batch_size: int) -> torch.Tensor:
        """The zero state of :meth:`step`.

        Parameters
        ----------
        batch_size
            Sequences stepped together.

        Returns
        -------
        torch.Tensor
            (batch_size, H, N_state) complex.
        """
        return torch.zeros(batch_size, self.H, self.state_size, dtype=self.log_dt.dtype.to_complex(), device=self.log_dt.device)

    def step(self, u: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of the recurrent view (after :meth:`setup_step`).

        Parameters
        ----------
        u
            (B, H) real.
        state
            (B, H, N_state) complex.

        Returns
        -------
        tuple of torch.Tensor
            (y (B, H), new state).
        """
        if self._step_fn is None:
            raise RuntimeError("call setup_step() before step()")
        if not self._step_snapshot.matches(self):
            raise RuntimeError("the SSM parameters changed since setup_step(); call setup_step() again")
        return self._step_fn(u, state)


class NPLRSSM(SSM):
    """S4: ``A = Λ - P P^*`` from a HiPPO measure (Sec. 3.2), kernel by Algorithm 1.

    C is stored as ``C̃ = C (I - Ā^{l_max})`` (Sec. 3.3) so the kernel of length ``l_max`` needs no
    matrix power; ``l_max=None`` stores C itself. Lengths beyond ``l_max`` and ``rate != 1`` convert
    C̃ exactly at O(N^3 log L) cost. The state dict holds ``l_max`` (buffer ``kernel_length``, 0 for None)
    beside C̃, and weights saved for another ``l_max`` are converted on load to this system's: C̃ means
    nothing without its length.

    Parameters
    ----------
    d_model
        H, the number of channels (independent SSMs).
    d_state
        N, the state size.
    dt_min, dt_max
        The log-uniform range of the initial Δ.
    discretization
        ``bilinear`` (Algorithm 1 needs it).
    l_max
        The length C̃ is stored for; None: C itself.
    init
        A HiPPO measure (legs, legt, lagt, fout, random).
    rank
        The low-rank term's rank.
    backend
        The Cauchy kernel's.
    seed
        The random measure's seed.
    """

    def __init__(
        self,
        d_model,
        d_state=64,
        l_max=None,
        init="legs",
        rank=1,
        dt_min=1e-3,
        dt_max=1e-1,
        discretization="bilinear",
        backend="auto",
        seed=0,
    ):
        super().__init__(d_model, d_state, dt_min, dt_max, discretization)
        if init not in hippo.MEASURES:
            hint = " (diagonal inits need mode='diag')" if init in hippo.DIAG_INITS else ""
            raise ValueError(f"unknown init {init!r} for mode='nplr'{hint}; valid: {', '.join(hippo.MEASURES)}")
        if discretization != "bilinear":
            raise ValueError(
                "mode='nplr' computes its kernel through the bilinear transform (Lemma C.3): "
                "use discretization='bilinear', or mode='diag' for 'zoh'"
            )
        if l_max is not None and l_max < 1:
            raise ValueError(f"l_max must be a positive length or None; got {l_max}")
        self.l_max, self.backend, self.state_size = l_max, backend, d_state // 2
        d = hippo.nplr(init, d_state, rank, seed)
        Lambda = d.Lambda.copy()
        Lambda.real = np.minimum(Lambda.real, -1e-4)  # strictly stable even for skew measures
        self.log_neg_re = nn.Parameter(torch.tensor(np.log(-_tile(Lambda.real, d_model))).float())
        self.Lambda_im = nn.Parameter(torch.tensor(_tile(Lambda.imag, d_model)).float())
        self.P = _real_param(np.broadcast_to(d.P[:, None], (rank, d_model, d_state // 2)).copy())
        self.B = _real_param(_tile(d.B, d_model))
        self.C_tilde = _real_param(torch.randn(d_model, d_state // 2, dtype=torch.complex128))
        self.register_buffer("kernel_length", torch.tensor(l_max or 0))  # the l_max that C̃ is stored for

    def Lambda(self) -> torch.Tensor:
        """The normal part's eigenvalues, one of each conjugate pair; Re Λ < 0.

        Returns
        -------
        torch.Tensor
            Λ (H, N/2) complex.
        """
        return torch.complex(-torch.exp(self.log_neg_re), self.Lambda_im)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "kernel_length"
        if key not in state_dict:  # saved before the length was: taken as stored for this system's l_max
            state_dict[key] = self.kernel_length.clone()
        saved = int(state_dict[key]) or None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if saved != self.l_max:
            self._store_C_for(self.l_max, saved)

    @torch.no_grad()
    def _store_C_for(self, l_max: int | None, stored_for: int | None) -> None:
        """Re-store C̃, now stored for length ``stored_for``, as ``C (I - Ā^{l_max})`` (C itself for None)."""
        self.l_max = stored_for
        C = self.true_C()[..., : self.state_size]
        self.l_max = l_max
        if l_max is not None:
            full = kernels.conj_pair(C).to(torch.complex128)
            C = (full[..., None, :] @ self._power_complement(l_max, 1.0))[..., 0, : self.state_size].to(C.dtype)
        self.C_tilde.copy_(torch.view_as_real(C))
        self.kernel_length.fill_(l_max or 0)

    def _power_complement(self, L: int, rate: float) -> torch.Tensor:
        """I - Ā^L (H, N, N) in complex128 at any parameter dtype: with eigenvalues of Ā near the unit circle
        (fout and lagt keep Re Λ near 0) it is ill-conditioned, and C̃ <-> C in complex64 lost up to 1% of
        the kernel (the recurrent view of a float32 fout model then disagreed with its convolution)."""
        A = kernels.dplr_dense(self.Lambda().to(torch.complex128), _complex(self.P).to(torch.complex128))
        B = kernels.conj_pair(_complex(self.B)).to(torch.complex128)
        A_bar, _ = discretize.dense(A, B, self.dt(rate).to(torch.complex128), "bilinear")
        return torch.eye(self.N, dtype=A_bar.dtype, device=A_bar.device) - torch.linalg.matrix_power(A_bar, L)

    def true_C(self) -> torch.Tensor:
        """C of the full system, recovered from C̃ = C (I - Ā^{l_max}) (in complex128).

        Returns
        -------
        torch.Tensor
            C (H, N) complex.
        """
        C = kernels.conj_pair(_complex(self.C_tilde))
        if self.l_max is None:
            return C
        complement = self._power_complement(self.l_max, 1.0)
        return torch.linalg.solve(complement, C.to(complement.dtype)[..., None, :], left=False)[..., 0, :].to(C.dtype)

    def conv_kernel(self, L: int, rate: float = 1.0) -> torch.Tensor:
        """The convolution kernel K̄ (H, L) (S4 eq. 5, Alg. 1), every Δ times ``rate``: the generating function at
        the roots of unity through the Woodbury identity (eq. 6) and the Cauchy kernel, then an inverse FFT.
        C̃ = C (I - Ā^L) is stored for ``l_max``; another length or rate re-derives it from C.

        Parameters
        ----------
        L
            The kernel length.
        rate
            Multiplies Δ.

        Returns
        -------
        torch.Tensor
            K̄ (H, L) real.
        """
        Lambda, P, B = self.Lambda(), _complex(self.P), _complex(self.B)
        if rate == 1.0 and self.l_max is not None and L <= self.l_max:
            return kernels.nplr(Lambda, P, B, _complex(self.C_tilde), self.dt(), self.l_max, self.backend)[:, :L]
        C = self.true_C()
        C_tilde = (C.to(torch.complex128)[..., None, :] @ self._power_complement(L, rate))[..., 0, : self.state_size]
        return kernels.nplr(Lambda, P, B, C_tilde.to(C.dtype), self.dt(rate), L, self.backend)

    def ssm_matrices(self):
        """The continuous system as dense matrices (A = Λ - P P* (H, N, N), B (H, N), C (H, N), Δ (H,)),
        complex, conjugate pairs expanded: what both views discretise."""
        A = kernels.dplr_dense(self.Lambda(), _complex(self.P))
        return A, kernels.conj_pair(_complex(self.B)), self.true_C(), self.dt()

    def _make_step(self, rate):
        return recurrence.DPLRBilinearStep(
            self.Lambda(), _complex(self.P), _complex(self.B), self.true_C()[..., : self.state_size], self.dt(rate)
        )


class DiagSSM(SSM):
    """S4D: diagonal ``A = Λ`` (diag-lin / diag-inv / diag-legs, or the Λ of any HiPPO measure).

    Parameters
    ----------
    d_model
        H, the number of channels (independent SSMs).
    d_state
        N, the state size.
    dt_min, dt_max
        The log-uniform range of the initial Δ.
    discretization
        ``bilinear`` or ``zoh``.
    init
        An S4D init or a HiPPO measure.
    seed
        The random measure's seed.
    """

    def __init__(self, d_model, d_state=64, init="diag-lin", dt_min=1e-3, dt_max=1e-1, discretization="zoh", seed=0):
        super().__init__(d_model, d_state, dt_min, dt_max, discretization)
        if init in hippo.DIAG_INITS:
            Lambda, B = hippo.diagonal_init(init, d_state)
        elif init in hippo.MEASURES:
            d = hippo.nplr(init, d_state, hippo.REQUIRED_RANK[init], seed)
            Lambda, B = d.Lambda.copy(), d.B
        else:
            raise ValueError(f"unknown init {init!r} for mode='diag'; valid: {', '.join(hippo.DIAG_INITS + hippo.MEASURES)}")
        Lambda.real = np.minimum(Lambda.real, -1e-4)
        self.state_size = d_state // 2
        self.log_neg_re = nn.Parameter(torch.tensor(np.log(-_tile(Lambda.real, d_model))).float())
        self.Lambda_im = nn.Parameter(torch.tensor(_tile(Lambda.imag, d_model)).float())
        self.B = _real_param(_tile(B, d_model))
        self.C = _real_param(torch.randn(d_model, d_state // 2, dtype=torch.complex128))

    def Lambda(self) -> torch.Tensor:
        """The diagonal of A, one of each conjugate pair; Re Λ < 0.

        Returns
        -------
        torch.Tensor
            Λ (H, N/2) complex.
        """
        return torch.complex(-torch.exp(self.log_neg_re), self.Lambda_im)

    def conv_kernel(self, L: int, rate: float = 1.0) -> torch.Tensor:
        """The convolution kernel of the diagonal system (S4D: a Vandermonde product), discretised by
        ``discretization``.

        Parameters
        ----------
        L
            The kernel length.
        rate
            Multiplies Δ.

        Returns
        -------
        torch.Tensor
            K̄ (H, L) real.
        """
        return kernels.diagonal(self.Lambda(), _complex(self.B), _complex(self.C), self.dt(rate), L, self.discretization)

    def ssm_matrices(self):
        """(diag Λ (H, N, N), B (H, N), C (H, N), Δ (H,)), complex, conjugate pairs expanded."""
        return (
            torch.diag_embed(kernels.conj_pair(self.Lambda())),
            kernels.conj_pair(_complex(self.B)),
            kernels.conj_pair(_complex(self.C)),
            self.dt(),
        )

    def _make_step(self, rate):
        Lambda = self.Lambda()
        A_bar, B_bar = discretize.diagonal(Lambda, _complex(self.B), self.dt(rate).to(Lambda.dtype), self.discretization)
        return recurrence.DiagonalStep(A_bar, B_bar, _complex(self.C))


class DenseSSM(SSM):
    """LSSL-style dense real system (Gu et al. 2021): the slow reference, O(N^2 L) per channel.

    Parameters
    ----------
    d_model
        H, the number of channels (independent SSMs).
    d_state
        N, the state size.
    dt_min, dt_max
        The log-uniform range of the initial Δ.
    discretization
        ``bilinear`` or ``zoh``.
    init
        A HiPPO measure (its dense transition matrix).
    seed
        The random measure's seed.
    """

    def __init__(self, d_model, d_state=64, init="legs", dt_min=1e-3, dt_max=1e-1, discretization="bilinear", seed=0):
        super().__init__(d_model, d_state, dt_min, dt_max, discretization)
        if init not in hippo.MEASURES:
            raise ValueError(f"unknown init {init!r} for mode='dense'; valid: {', '.join(hippo.MEASURES)}")
        A, B = hippo.transition(init, d_state, seed)
        self.state_size = d_state
        self.A = nn.Parameter(torch.tensor(_tile(A, d_model)).float())
        self.B = nn.Parameter(torch.tensor(_tile(B, d_model)).float())
        self.C = nn.Parameter(torch.randn(d_model, d_state) / math.sqrt(d_state))

    def conv_kernel(self, L: int, rate: float = 1.0) -> torch.Tensor:
        """The convolution kernel by powers of the discretised dense Ā (LSSL; O(N^2 L)).

        Parameters
        ----------
        L
            The kernel length.
        rate
            Multiplies Δ.

        Returns
        -------
        torch.Tensor
            K̄ (H, L) real.
        """
        return kernels.dense(self.A, self.B, self.C, self.dt(rate), L, self.discretization)

    def ssm_matrices(self):
        """(A (H, N, N), B (H, N), C (H, N), Δ (H,)) as complex tensors."""
        c = self.A.dtype.to_complex()
        return self.A.to(c), self.B.to(c), self.C.to(c), self.dt()

    def _make_step(self, rate):
        c = self.A.dtype.to_complex()
        A_bar, B_bar = discretize.dense(self.A.to(c), self.B.to(c), self.dt(rate).to(c), self.discretization)
        return recurrence.DenseStep(A_bar, B_bar, self.C.to(c))


_CLASSES = {"nplr": NPLRSSM, "diag": DiagSSM, "dense": DenseSSM}


def build_ssm(mode: str, d_model: int, **kwargs) -> SSM:
    """The SSM of a mode.

    Parameters
    ----------
    mode
        ``nplr`` (:class:`NPLRSSM`), ``diag`` (:class:`DiagSSM`) or ``dense`` (:class:`DenseSSM`).
    d_model
        H, the number of channels.
    **kwargs
        That class's options; one the mode does not take is a ValueError that names the valid ones.

    Returns
    -------
    SSM
    """
    if mode not in _CLASSES:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    cls = _CLASSES[mode]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "d_model")]
    if unknown := sorted(set(kwargs) - set(accepted)):
        raise ValueError(f"mode={mode!r} takes no option(s) {', '.join(unknown)}; valid: {', '.join(accepted)}")
    return cls(d_model, **kwargs)
