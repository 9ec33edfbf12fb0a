"""A closed-loop layout (SpaceTime, Zhang et al., ICLR 2023): the horizon rolled out from an SSM's own state.

The S4 encoder reads the context as in the lookback layout (``lookback.py``: by steps or patches, no
horizon positions). A decoder SSM of the encoder's mode and options, one per channel of its output,
runs open loop over the encoded context and then closed loop over the horizon, its next input
predicted from its state by a learned feedback K (``ssm/closed_loop.py``)::

    y_{L-1+j} = C (Ā + B̄K)^j x_{L-1},    j = 1..ceil((shift + output_chunk_length) / patch_len)

and a linear map takes each rolled-out token (d_model) to its ``patch_len`` forecast steps. K is
trained by an auxiliary loss, the one-step predictions ``K x_t`` over the context against the encoded
inputs that followed (their mean squared error over their mean square, weighted
:data:`ONE_STEP_WEIGHT`); the encoder is trained by the forecast loss alone (the targets are detached,
so it cannot lower the auxiliary loss by flattening its outputs). Validation loss is the forecast's alone.

Against the lookback layout's flatten head, whose size grows with context x horizon, the horizon here
is one recurrence read out by one per-token map: the head does not grow with the horizon.
"""

from __future__ import annotations

import math

import torch
from darts.utils.data.torch_datasets.utils import PLModuleOutput
from torch import nn

from s4forecast.forecasting.lookback import LookbackNetwork
from s4forecast.nn import S4Options
from s4forecast.nn.conv import conv
from s4forecast.ssm import discretize
from s4forecast.ssm.closed_loop import context_to_horizon
from s4forecast.ssm.kernels import conj_pair
from s4forecast.ssm.systems import build_ssm

ONE_STEP_WEIGHT = 1.0  # weight of the auxiliary one-step loss (SpaceTime adds it unweighted)


class ClosedLoopDecoder(nn.Module):
    """H SSMs of ``options``' mode with a learned feedback K (zero at the start: the open-loop system with
    no input over the horizon).

    Training runs on the SSM's own structured recurrence (``SSM.recurrence``: O(N) a step for diag,
    O(N r) for nplr, no dense matrix), independent of the batch: the impulse response ``Ā^j B̄`` over the
    context gives the state after the context and the one-step predictions' kernel ``K Ā^j B̄``, and the
    rows ``C (Ā + B̄K)^j = C (Ā + B̄K)^{j-1} Ā + (C (Ā + B̄K)^{j-1} B̄) K`` (Ā applied from the left,
    ``step.left``) read the horizon off that state. The dense forms (``ssm/closed_loop.py``) are
    the tests' reference and the export's constant map (:meth:`freeze_kernel`).
    """

    def __init__(self, options: S4Options, seed: int = 0):
        super().__init__()
        self.ssm = build_ssm(options.mode, options.d_model, **options.ssm_kwargs(None, seed))
        self.K = nn.Parameter(torch.zeros(options.d_model, self.ssm.state_size, 2))  # complex, stored as (re, im)
        self._frozen_map: torch.Tensor | None = None  # freeze_kernel(): the rollout as a constant (H, T, L)

    @property
    def paired(self) -> bool:
        """Whether the state holds one of each conjugate pair (nplr, diag), so that ``K x = 2 Re K_half x_half``."""
        return self.ssm.state_size < self.ssm.N

    def inner(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``a b`` of a row and a column of the full state from their stored parts (..., H, N_state) -> (..., H)
        real: ``2 Re Σ a b`` over conjugate pairs, ``Re Σ a b`` for a real system."""
        return (2 if self.paired else 1) * (a * b).sum(-1).real

    def feedback_row(self, dtype: torch.dtype) -> torch.Tensor:
        """K's stored part (H, N_state): complex for conjugate pairs, real (as complex) for a real system."""
        K = torch.view_as_complex(self.K)
        return (K if self.paired else K.real.to(K.dtype)).to(dtype)

    def matrices(self, rate: float = 1.0):
        """(Ā, B̄, C, K) of the full state (H, N, N), (H, N) x 3, complex, every Δ times ``rate``; K of a
        conjugate-pair system comes in conjugate pairs (so that ``K x`` is real), a real system's K is real."""
        A, B, C, dt = self.ssm.ssm_matrices()
        A_bar, B_bar = discretize.dense(A, B, (dt * rate).to(A.dtype), self.ssm.discretization)
        K = torch.view_as_complex(self.K)
        K = conj_pair(K) if self.paired else K.real.to(K.dtype)
        return A_bar, B_bar, C.to(A_bar.dtype), K.to(A_bar.dtype)

    def freeze_kernel(self, L: int, T: int, rate: float = 1.0) -> None:
        """Keep the rollout of T tokens from a context of L as one real constant (H, T, L)
        (:func:`~s4forecast.ssm.closed_loop.context_to_horizon`), which :meth:`forward` applies (with no
        one-step predictions) until :meth:`unfreeze_kernel`: for export (ONNX has no complex numbers)."""
        with torch.no_grad():
            self._frozen_map = context_to_horizon(*self.matrices(rate), L, T).to(self.K.dtype)

    def unfreeze_kernel(self) -> None:
        """Compute the rollout from the parameters again (undo :meth:`freeze_kernel`)."""
        self._frozen_map = None

    def forward(self, u: torch.Tensor, T: int, rate: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """u (B, L, H) -> (outputs over T horizon tokens (B, T, H), the one-step predictions of u[:, 1:]
        (B, L-1, H))."""
        if self._frozen_map is not None:
            return torch.einsum("htl,blh->bth", self._frozen_map.to(u.dtype), u), u[:, :0]
        if torch.compiler.is_exporting():
            raise RuntimeError("a closed-loop decoder is exported as a constant map: call freeze_kernel(L, T, rate) first")
        B, L, H = u.shape
        step = self.ssm.recurrence(rate)
        x = self.ssm.default_state(1)
        _, x = step(torch.ones(1, H, dtype=u.dtype, device=u.device), x)
        impulse = [x]  # Ā^j B̄, j = 0..L-1: (1, H, N_state) each
        for _ in range(L - 1):
            _, x = step(torch.zeros(1, H, dtype=u.dtype, device=u.device), x)
            impulse.append(x)
        impulse = torch.cat(impulse)  # (L, H, N_state)
        K = self.feedback_row(impulse.dtype)
        x = torch.einsum("lhn,blh->bhn", impulse.flip(0), u.to(impulse.dtype))  # the state after the context
        rows, row = [], step.C.to(impulse.dtype)[None]  # C (Ā + B̄K)^j, j = 1..T, one (1, H, N_state) each
        for _ in range(T):
            row = step.left(row) + self.inner(row, impulse[:1])[..., None] * K  # r Ā + (r B̄) K
            rows.append(row)
        outputs = self.inner(torch.cat(rows)[None], x[:, None])  # (B, T, H)
        kernel = self.inner(K, impulse[: L - 1]).T  # (H, L-1): K Ā^j B̄
        predicted = conv(u[:, :-1].transpose(1, 2), kernel.to(u.dtype)).transpose(1, 2) if L > 1 else u[:, :0]
        return outputs.to(u.dtype), predicted


class ClosedLoopNetwork(LookbackNetwork):
    """The closed-loop layout's network (see :class:`~s4forecast.forecasting.lookback.LookbackNetwork`
    for the arguments). Forward returns (batch, output_chunk_length, target_dim, nr_params)."""

    def make_head(self, d_model: int) -> nn.Linear:
        """The decoder, and the map of each rolled-out token to its ``patch_len`` steps."""
        self.n_out = math.ceil((self.output_chunk_shift + self.output_chunk_length) / self.patch_len)
        self.decoder = ClosedLoopDecoder(self.encoder.options)
        self.activation = nn.GELU()
        self.one_step_loss: torch.Tensor | None = None  # the last training batch's auxiliary loss
        return nn.Linear(d_model, self.patch_len * self.series_dim * self.nr_params)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        y, predicted = self.decoder(h, self.n_out, self.encoder_rate())
        if self.training and h.shape[1] > 1:
            target = h[:, 1:].detach()
            self.one_step_loss = ((predicted - target) ** 2).mean() / (target**2).mean().clamp_min(1e-8)
        steps = self.head(self.head_dropout(self.activation(y)))  # (B', n_out, patch_len * series_dim * nr)
        steps = steps.reshape(h.shape[0], self.n_out * self.patch_len, -1)
        return steps[:, self.output_chunk_shift : self.output_chunk_shift + self.output_chunk_length]

    def _compute_loss(self, output: PLModuleOutput, target, criterion, sample_weight):
        loss = super()._compute_loss(output, target, criterion, sample_weight)
        if self.training and self.one_step_loss is not None:
            loss = loss + ONE_STEP_WEIGHT * self.one_step_loss
        return loss
