"""A closed-loop layout (SpaceTime, Zhang et al., ICLR 2023): the horizon rolled out from an SSM's own state.

The S4 encoder reads the context as in the lookback layout (``lookback.py``: by steps or patches, no
horizon positions). A decoder SSM of the encoder's mode and options but its own initial Δ range
(``decoder_dt``: S4Model's default range for the tokens, not the encoder's tuned one), one per channel of its
output, runs open loop over the encoded context and then closed loop over the horizon, its next input
predicted from its state by a learned feedback K (``ssm/closed_loop.py``)::

    y_{L-1+j} = C (Ā + B̄K)^j x_{L-1},    j = 1..ceil((shift + output_chunk_length) / patch_len)

and a linear map takes each rolled-out token (d_model) to its ``patch_len`` forecast steps. K is
trained by an auxiliary loss, the one-step predictions ``K x_t`` over the context against the encoded
inputs that followed (their mean squared error over their mean square, weighted
:data:`ONE_STEP_WEIGHT`). The targets are detached: the auxiliary loss reaches the encoder only through
the inputs of the predictions, so it cannot be lowered by moving the targets themselves. Validation loss is
the forecast's alone.

Against the lookback layout's flatten head, whose size grows with context x horizon, the horizon here
is one recurrence read out by one per-token map: the head does not grow with the horizon.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from s4forecast.forecasting.lookback import LookbackNetwork
from s4forecast.nn import S4Options
from s4forecast.nn.conv import conv
from s4forecast.ssm.closed_loop import (
    closed_loop_outputs,
    closed_loop_rows,
    context_to_horizon,
    final_state,
    one_step_kernel,
    state_columns,
)
from s4forecast.ssm.systems import build_ssm

ONE_STEP_WEIGHT = 1.0  # weight of the auxiliary one-step loss (SpaceTime adds it unweighted)


class ClosedLoopDecoder(nn.Module):
    """H SSMs of ``options``' mode with a learned feedback K (zero at the start: the open-loop system with
    no input over the horizon).

    Its system is taken in real coordinates: the state's stored part ξ (H, S) complex (one of each
    conjugate pair for nplr / diag) is the real vector [Re ξ, Im ξ] (2S). Ā and B̄ there come from the
    SSM's own structured step (``SSM.recurrence``, with autograd) applied to the 2S basis states, and C
    and K become the real rows that give ``C x`` and ``K x`` of the full state (2 Re over conjugate
    pairs). The context and the horizon then run through the dense functions of ``ssm/closed_loop.py``
    in real arithmetic: repeated squaring, O(S^3 log(L T)) per channel, independent of the batch.

    Parameters
    ----------
    options
        The decoder's :class:`~s4forecast.nn.options.S4Options` (mode, d_model, d_state, init, Δ range).
    seed
        The random measure's seed.
    """

    def __init__(self, options: S4Options, seed: int = 0):
        super().__init__()
        self.ssm = build_ssm(options.mode, options.d_model, **options.ssm_kwargs(None, seed))
        self.K = nn.Parameter(torch.zeros(options.d_model, self.ssm.state_size, 2))  # complex, stored as (re, im)
        self._frozen_map: torch.Tensor | None = None  # freeze_kernel(): the rollout as a constant (H, T, L)

    def real_system(self, rate: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(Ā (H, 2S, 2S), B̄, C, K (H, 2S)) real, in the coordinates [Re ξ, Im ξ] of the stored state, every
        Δ times ``rate``: ``x' = Ā x + B̄ u``, ``y = C·x``, predicted input ``K·x``.

        Parameters
        ----------
        rate
            Multiplies Δ.

        Returns
        -------
        tuple of torch.Tensor
        """
        step = self.ssm.recurrence(rate)
        H, S = self.ssm.H, self.ssm.state_size
        state = self.ssm.default_state(1)
        eye = torch.eye(S, dtype=state.dtype, device=state.device)
        basis = torch.cat([eye, 1j * eye])[:, None, :].expand(2 * S, H, S)  # (2S, H, S): e_k, then i e_k
        _, images = step(torch.zeros(2 * S, H, dtype=self.K.dtype, device=self.K.device), basis)  # Ā e
        A = torch.cat([images.real, images.imag], -1).permute(1, 2, 0)  # (H, 2S out, 2S in)
        _, b = step(torch.ones(1, H, dtype=self.K.dtype, device=self.K.device), state)  # B̄ (1, H, S)
        scale = 2 if S < self.ssm.N else 1  # C x = 2 Re Σ C ξ over conjugate pairs, Re Σ C ξ for a real system
        K = torch.view_as_complex(self.K)
        K = K if S < self.ssm.N else K.real.to(K.dtype)  # a real system's feedback is real

        def row(v: torch.Tensor) -> torch.Tensor:  # the real row r with r·[Re ξ, Im ξ] = scale Re Σ v ξ
            return scale * torch.cat([v.real, -v.imag], -1)

        return A, torch.cat([b.real, b.imag], -1)[0], row(step.C), row(K)

    def freeze_kernel(self, L: int, T: int, rate: float = 1.0) -> None:
        """Keep the rollout of T tokens from a context of L as one real constant (H, T, L)
        (:func:`~s4forecast.ssm.closed_loop.context_to_horizon`), which :meth:`forward` applies (with no
        one-step predictions) until :meth:`unfreeze_kernel`: for export (ONNX has no complex numbers).

        Parameters
        ----------
        L, T
            Context and horizon tokens.
        rate
            Multiplies Δ.
        """
        with torch.no_grad():
            self._frozen_map = context_to_horizon(*self.real_system(rate), L, T).to(self.K.dtype)

    def unfreeze_kernel(self) -> None:
        """Compute the rollout from the parameters again (undo :meth:`freeze_kernel`)."""
        self._frozen_map = None

    def forward(self, u: torch.Tensor, T: int, rate: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """u (B, L, H) -> (outputs over T horizon tokens (B, T, H), the one-step predictions of u[:, 1:]
        (B, L-1, H)).

        Parameters
        ----------
        u
            (B, L, H): the encoded context.
        T
            Horizon tokens.
        rate
            Multiplies Δ.

        Returns
        -------
        tuple of torch.Tensor
        """
        if self._frozen_map is not None:
            return torch.einsum("htl,blh->bth", self._frozen_map.to(u.dtype), u), u[:, :0]
        if torch.compiler.is_exporting():
            raise RuntimeError("a closed-loop decoder is exported as a constant map: call freeze_kernel(L, T, rate) first")
        A, B, C, K = self.real_system(rate)
        columns = state_columns(A, B, u.shape[1])  # Ā^j B̄, read twice: the state and the one-step kernel
        outputs = closed_loop_outputs(closed_loop_rows(A, B, C, K, T), final_state(columns, u)).to(u.dtype)
        if u.shape[1] == 1:  # a context of one token predicts nothing
            return outputs, u[:, :0]
        kernel = one_step_kernel(columns[:, :-1], K).to(u.dtype)  # (H, L-1): K Ā^j B̄
        return outputs, conv(u[:, :-1].transpose(1, 2), kernel).transpose(1, 2)


class ClosedLoopNetwork(LookbackNetwork):
    def __init__(self, decoder_dt: tuple[float, float] | None = None, **kwargs):
        """The closed-loop layout's network. Forward returns (batch, output_chunk_length, target_dim, nr_params).

        Parameters
        ----------
        decoder_dt
            The decoder SSM's initial Δ range (dt_min, dt_max), which S4Model resolves; None: the encoder's
            (networks saved before the option existed).
        **kwargs
            :class:`~s4forecast.forecasting.lookback.LookbackNetwork`'s.
        """
        self.decoder_dt = decoder_dt  # read by make_head, which the base constructor calls
        super().__init__(**kwargs)

    def make_head(self, d_model: int) -> nn.Linear:
        """The decoder, and the map of each rolled-out token to its ``patch_len`` steps."""
        self.n_out = math.ceil((self.output_chunk_shift + self.output_chunk_length) / self.patch_len)
        options = self.encoder.options
        if self.decoder_dt is not None:
            options = dataclasses.replace(options, dt_min=self.decoder_dt[0], dt_max=self.decoder_dt[1])
        self.decoder = ClosedLoopDecoder(options)
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

    def training_step(self, train_batch, batch_idx: int) -> torch.Tensor:
        """Darts' training step, whose loss (the forecast's) gets the auxiliary one-step loss added.

        Parameters
        ----------
        train_batch, batch_idx
            Lightning's.

        Returns
        -------
        torch.Tensor
        """
        loss = super().training_step(train_batch, batch_idx)
        return loss if self.one_step_loss is None else loss + ONE_STEP_WEIGHT * self.one_step_loss
