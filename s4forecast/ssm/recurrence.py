"""The recurrent view ``x_t = Ā x_{t-1} + B̄ u_t,  y_t = C x_t`` (S4 eq. 3), one step at a time.

States are the N2 = N/2 half of a conjugate-symmetric full state, so ``y_t = 2 Re(C x_t)``.
Shapes: u (B, H) real, x (B, H, N2) complex.

* :class:`DPLRBilinearStep` O(N r) per channel: ``(I - Δ/2 A)^{-1}`` of ``A = Λ - P_f P_f^*`` is
  applied with the Woodbury identity (S4 App. C.2), never formed densely.
* :class:`DiagonalStep` O(N): Ā and B̄ are diagonal.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def _pair_inner(P: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """P_f^* x_f for a conjugate-pair vector: 2 Re Σ_n conj(P_rn) x_n. P (r, H, N2), x (B, H, N2) -> (B, r, H)."""
    return 2 * torch.einsum("rhn,bhn->brh", P.conj(), x).real


@dataclass
class DPLRBilinearStep:
    """Precomputed operators of the bilinear step of ``A = Λ - P_f P_f^*`` (true C, not C̃). Called as
    ``step(u (B, H), x (B, H, N2)) -> (y (B, H), new x)``.

    Attributes
    ----------
    Lambda, B, C
        (H, N2) complex.
    P
        (r, H, N2) complex.
    dt
        (H,) real.
    """

    Lambda: torch.Tensor  # (H, N2)
    P: torch.Tensor  # (r, H, N2)
    B: torch.Tensor  # (H, N2)
    C: torch.Tensor  # (H, N2)
    dt: torch.Tensor  # (H,)

    def __post_init__(self):
        dt = self.dt.to(self.Lambda.dtype)[:, None]
        self.D_inv = 1 / (1 - dt / 2 * self.Lambda)  # (H, N2): diagonal part of (I - Δ/2 A)^{-1}
        # Woodbury capacitance 2/Δ I + P_f^* D^{-1} P_f, real (H, r, r), inverted once.
        cap = 2 * torch.einsum("ihn,jhn->hij", self.P.conj(), self.P * self.D_inv).real
        r = self.P.shape[0]
        cap = cap + torch.diag_embed((2 / self.dt)[:, None].expand(-1, r))
        self.cap_inv = torch.linalg.inv(cap)

    def __call__(self, u: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dt = self.dt.to(x.dtype)[:, None]
        Px = _pair_inner(self.P, x)  # (B, r, H)
        y = x + dt / 2 * (self.Lambda * x - torch.einsum("rhn,brh->bhn", self.P, Px.to(x.dtype)))
        y = y + dt * self.B * u[..., None].to(x.dtype)
        Dy = self.D_inv * y
        corr = torch.einsum("hij,bjh->bih", self.cap_inv, _pair_inner(self.P, Dy))
        x_new = Dy - self.D_inv * torch.einsum("rhn,brh->bhn", self.P, corr.to(x.dtype))
        return 2 * (self.C * x_new).sum(-1).real, x_new


@dataclass
class DiagonalStep:
    """The step of a diagonal system, ``step(u (B, H), x (B, H, N2)) -> (y (B, H), new x)``.

    Attributes
    ----------
    A_bar, B_bar, C
        (H, N2) complex: the diagonal of Ā, B̄ and C.
    """

    A_bar: torch.Tensor  # (H, N2)
    B_bar: torch.Tensor  # (H, N2)
    C: torch.Tensor  # (H, N2)

    def __call__(self, u: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_new = self.A_bar * x + self.B_bar * u[..., None].to(x.dtype)
        return 2 * (self.C * x_new).sum(-1).real, x_new


@dataclass
class DenseStep:
    """The step of a dense system, ``step(u (B, H), x (B, H, N)) -> (y (B, H), new x)``.

    Attributes
    ----------
    A_bar
        (H, N, N).
    B_bar, C
        (H, N).
    """

    A_bar: torch.Tensor  # (H, N, N)
    B_bar: torch.Tensor  # (H, N)
    C: torch.Tensor  # (H, N)

    def __call__(self, u: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_new = torch.einsum("hmn,bhn->bhm", self.A_bar, x) + self.B_bar * u[..., None].to(x.dtype)
        return (self.C * x_new).sum(-1).real, x_new
