"""A lookback layout: S4 encodes the context only, and a linear head maps the encoded window to the horizon.

The encoder reads the ``input_chunk_length`` observed steps (target, past covariates, the window's
future covariates, static covariates; no mask, no horizon positions), by steps or by patches of
``patch_len`` (padded at the front to whole patches). The head flattens the encoder's outputs over the
window, (B', n_tokens * d_model), and maps them linearly to the ``output_chunk_length`` forecast steps
(PatchTST's flatten head, here over S4's outputs). Future covariates of the horizon steps, when given,
enter through a linear map of each step's covariates added to that step's forecast.

Against the masked layout (``masked.py``, the paper's): the encoder's sequence is shorter by the
horizon, every forecast step reads the whole encoded window at once (no patch of the horizon is
decoded on its own, so no jump at patch boundaries), and the head grows with the horizon.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from darts.utils.data.torch_datasets.utils import PLModuleInput
from torch import nn

from s4forecast.forecasting.network import ForecastNetwork, future_covariates, mc_dropout
from s4forecast.nn import S4Encoder, S4Options


class LookbackNetwork(ForecastNetwork):
    def __init__(
        self,
        past_cov_dim: int,
        future_cov_dim: int,
        static_cov_dim: int,
        encoder_kwargs: dict,
        patch_len: int = 1,
        l_max: int | None = None,
        **kwargs,
    ):
        """The lookback layout's network (see :class:`~s4forecast.forecasting.network.ForecastNetwork` for
        the shared arguments). Forward returns (batch, output_chunk_length, target_dim, nr_params).

        ``l_max``: the length the S4 kernels are parametrised for (C̃ = C (I - Ā^l_max), Sec. 3.3);
        ``None`` is the number of encoder positions (context tokens).

        Parameters
        ----------
        past_cov_dim, future_cov_dim, static_cov_dim
            The covariates' widths (0: none).
        encoder_kwargs
            The S4 encoder's options (:class:`~s4forecast.nn.options.S4Options` fields, a plain dict so that
            checkpoints keep it).
        patch_len
            Steps a token.
        l_max
            The length the S4 kernels are parametrised for; None: the encoder's positions.
        **kwargs
            :class:`~s4forecast.forecasting.network.ForecastNetwork`'s.
        """
        super().__init__(**kwargs)
        self.patch_len = patch_len
        self.pad_front = -self.input_chunk_length % patch_len
        self.n_tokens = (self.pad_front + self.input_chunk_length) // patch_len
        self.l_max = self.n_tokens if l_max is None else l_max
        d_input = self.series_dim + past_cov_dim + future_cov_dim + static_cov_dim
        self.encoder = mc_dropout(S4Encoder(d_input * patch_len, options=S4Options(**encoder_kwargs), l_max=self.l_max))
        d_model = self.encoder.blocks[0].layer.d_model
        self.head_dropout = mc_dropout(nn.Dropout(encoder_kwargs.get("dropout", 0.0)))
        self.head = self.make_head(d_model)
        self.future_head = nn.Linear(future_cov_dim, self.series_dim * self.nr_params) if future_cov_dim else None
        self.add_linear_skip()

    def make_head(self, d_model: int) -> nn.Linear:
        """The flatten head (n_tokens * d_model,) -> (output_chunk_length * series_dim * nr_params,); a layout
        that decodes otherwise (``closed_loop.py``) builds its own here.

        Parameters
        ----------
        d_model
            The encoder's width.

        Returns
        -------
        torch.nn.Linear
        """
        return nn.Linear(self.n_tokens * d_model, self.output_chunk_length * self.series_dim * self.nr_params)

    @property
    def residual_head(self) -> nn.Linear:
        return self.head

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """The encoded window (B', n_tokens, d_model) -> the forecast steps (B', output_chunk_length,
        series_dim * nr_params).

        Parameters
        ----------
        h
            (B', n_tokens, d_model).

        Returns
        -------
        torch.Tensor
            (B', output_chunk_length, series_dim * nr_params).
        """
        return self.head(self.head_dropout(h.flatten(1))).reshape(h.shape[0], self.output_chunk_length, -1)

    def window(self, target: torch.Tensor, past_covariates=None, future_covariates=None, static_covariates=None):
        """Encoder input by steps (B', T, d_input): target (B, T, C), past_covariates (B, T, Cp) or None,
        the window's future covariates (B, T, Cf) or None, static_covariates (B, C or 1, Cs) or None;
        B' = B * C when channel independent.

        Parameters
        ----------
        target
            (B, T, C).
        past_covariates, future_covariates, static_covariates
            As above, or None.

        Returns
        -------
        torch.Tensor
            (B', T, d_input).
        """
        B, T, C = target.shape
        shared = [t for t in (past_covariates, future_covariates) if t is not None]
        if static_covariates is not None:
            shared.append(static_covariates.reshape(B, 1, -1).expand(B, T, -1))
        if not self.channel_independent:
            return torch.cat([target, *shared], -1)
        series = target.permute(0, 2, 1).reshape(B * C, T, 1)
        return torch.cat([series, *(t.repeat_interleave(C, 0) for t in shared)], -1)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B', T, d_input) -> (B', n_tokens, patch_len * d_input), zeros before the context.

        Parameters
        ----------
        x
            (B', T, d_input).

        Returns
        -------
        torch.Tensor
            (B', n_tokens, patch_len * d_input).
        """
        if self.patch_len == 1:
            return x
        x = F.pad(x, (0, 0, self.pad_front, 0))
        return x.reshape(x.shape[0], self.n_tokens, self.patch_len * x.shape[-1])

    def residual(self, centred: torch.Tensor, x_in: PLModuleInput) -> torch.Tensor:
        B, L_in, _ = centred.shape
        future = future_covariates(x_in, self.output_chunk_shift, self.output_chunk_length)
        window_future = future[:, :L_in] if future is not None else None
        x = self.window(centred, x_in.past_covariates, window_future, x_in.static_covariates)
        h = self.encoder(self.tokens(x), self.encoder_rate())  # (B', n_tokens, d_model)
        y = self.decode(h)
        if self.future_head is not None:  # each horizon step's own covariates, for every series alike
            y_future = self.future_head(future[:, -self.output_chunk_length :])  # (B, ocl, series_dim * nr)
            y = y + (y_future.repeat_interleave(self.target_dim, 0) if self.channel_independent else y_future)
        return self.predictions(y, B)
