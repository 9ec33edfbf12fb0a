"""The paper's forecasting layout (S4 App. D.3.5): masked sequence-to-sequence.

The encoder reads one sequence of length ``L = input_chunk_length + output_chunk_shift +
output_chunk_length``: the context, then the horizon positions with the target masked (zeros),
future covariates present wherever Darts provides them, and a mask channel that is 1 where the
target is observed. The last ``output_chunk_length`` outputs are the forecast.

Input features per position (B, L, d_input): target (masked in the horizon), past covariates
(zero in the horizon), historic+future covariates, static covariates (repeated), mask.

With ``patch_len = P > 1`` the encoder runs over patches instead of steps: the context is padded at
the front and the masked part at the end to multiples of P, each run of P positions becomes one token
of P * d_input features, and the head decodes each horizon token into its P steps. One SSM step Δ
then spans one patch, and the encoder's length drops from L to about L / P.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from darts.utils.data.torch_datasets.utils import PLModuleInput
from torch import nn

from s4forecast.forecasting.darts_private import set_output_chunk_length
from s4forecast.forecasting.network import ForecastNetwork, future_covariates, mc_dropout
from s4forecast.forecasting.resampling import resample_axis
from s4forecast.nn import S4Encoder, S4Options


class MaskedNetwork(ForecastNetwork):
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
        """The masked layout's network (see :class:`~s4forecast.forecasting.network.ForecastNetwork` for
        the shared arguments). Forward returns (batch, output_chunk_length, target_dim, nr_params).

        ``l_max``: the length the S4 kernels are parametrised for (C̃ = C (I - Ā^l_max), Sec. 3.3);
        ``None`` is the number of encoder positions. A resampled network keeps its original one.

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
        d_input = self.series_dim + past_cov_dim + future_cov_dim + static_cov_dim + 1
        self._set_layout(patch_len)
        self.l_max = self.n_tokens if l_max is None else l_max
        self.encoder = mc_dropout(S4Encoder(d_input * patch_len, options=S4Options(**encoder_kwargs), l_max=self.l_max))
        self.head = nn.Linear(self.encoder.blocks[0].layer.d_model, patch_len * self.series_dim * self.nr_params)
        self.add_linear_skip()

    @property
    def residual_head(self) -> nn.Linear:
        return self.head

    def _set_layout(self, patch_len: int) -> None:
        """Sequence length L and, for patches, the zeros before the context and after the masked steps
        that make both whole numbers of patches."""
        self.L = self.input_chunk_length + self.output_chunk_shift + self.output_chunk_length
        self.patch_len = patch_len
        self.pad_front = -self.input_chunk_length % patch_len
        self.pad_back = -(self.L - self.input_chunk_length) % patch_len
        self.n_tokens = (self.pad_front + self.L + self.pad_back) // patch_len

    @torch.no_grad()
    def resample_(self, rate: float) -> None:
        """Resample in place to steps ``rate`` times as long (see S4Model.with_rate); every resampled
        length must be a whole number of steps (the caller checks).

        Per step (patch_len 1): every Δ x rate. Patched: a patch keeps its span, so it holds
        patch_len / rate steps, the embedding reads and the head writes them through linear
        interpolation (resampling.py), and Δ per patch is unchanged. The linear skip reads the new
        window and writes the new horizon the same way.

        Parameters
        ----------
        rate
            The new data's step over the old.
        """
        d_model = self.head.in_features
        self.input_chunk_length = round(self.input_chunk_length / rate)
        set_output_chunk_length(self, round(self.output_chunk_length / rate))
        self.output_chunk_shift = round(self.output_chunk_shift / rate)
        if self.patch_len == 1:
            self.rate.mul_(rate)
        else:
            embed, head = self.encoder.encoder, self.head
            w = embed.weight.reshape(d_model, self.patch_len, -1)
            _set_weights(embed, resample_axis(w, 1, rate, reads=True).reshape(d_model, -1), embed.bias)
            w = head.weight.reshape(self.patch_len, -1, d_model)
            b = head.bias.reshape(self.patch_len, -1)
            _set_weights(
                head,
                resample_axis(w, 0, rate, reads=False).reshape(-1, d_model),
                resample_axis(b, 0, rate, reads=False).reshape(-1),
            )
            self.encoder.d_input = embed.in_features
        if self.skip is not None:
            w = self.skip.weight.reshape(-1, self.nr_params, self.skip.in_features)  # (ocl, nr, icl)
            w = resample_axis(resample_axis(w, 2, rate, reads=True), 0, rate, reads=False)
            b = resample_axis(self.skip.bias.reshape(-1, self.nr_params), 0, rate, reads=False)
            _set_weights(self.skip, w.reshape(-1, w.shape[-1]), b.reshape(-1))
        self._set_layout(self.patch_len if self.patch_len == 1 else round(self.patch_len / rate))
        # checkpoints rebuild the module from its hyperparameters (Darts' save and load)
        self.hparams.update(
            input_chunk_length=self.input_chunk_length,
            output_chunk_length=self.output_chunk_length,
            output_chunk_shift=self.output_chunk_shift,
            patch_len=self.patch_len,
            rate=float(self.rate),
            l_max=self.l_max,
        )

    def sequence(
        self, target: torch.Tensor, n_masked: int, past_covariates=None, future_covariates=None, static_covariates=None
    ) -> torch.Tensor:
        """Encoder input (B', T + n_masked, d_input) for ``T`` observed steps then ``n_masked`` masked ones.

        target (B, T, C); past_covariates (B, T, Cp) or None; future_covariates (B, T + n_masked, Cf)
        or None; static_covariates (B, C or 1, Cs) or None. B' = B * C when channel independent.

        Parameters
        ----------
        target
            (B, T, C).
        n_masked
            Horizon positions appended.
        past_covariates, future_covariates, static_covariates
            As in :meth:`~s4forecast.forecasting.lookback.LookbackNetwork.window`, or None.

        Returns
        -------
        torch.Tensor
            (B', T + n_masked, d_input).
        """
        B, T, C = target.shape

        def extend(t):  # zero-fill the masked steps of an observed-only tensor
            return torch.cat([t, t.new_zeros(B, n_masked, t.shape[-1])], 1)

        shared = [extend(past_covariates)] if past_covariates is not None else []
        if future_covariates is not None:
            shared.append(future_covariates)
        if static_covariates is not None:
            shared.append(static_covariates.reshape(B, 1, -1).expand(B, T + n_masked, -1))
        shared.append(torch.cat([target.new_ones(B, T, 1), target.new_zeros(B, n_masked, 1)], 1))
        shared = torch.cat(shared, -1)
        if not self.channel_independent:
            return torch.cat([extend(target), shared], -1)
        series = extend(target).permute(0, 2, 1).reshape(B * C, T + n_masked, 1)
        return torch.cat([series, shared.repeat_interleave(C, 0)], -1)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder input by steps (B', L, d_input) -> by patches (B', n_tokens, patch_len * d_input).

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
        x = F.pad(x, (0, 0, self.pad_front, self.pad_back))
        return x.reshape(x.shape[0], self.n_tokens, self.patch_len * x.shape[-1])

    def horizon(self, h: torch.Tensor) -> torch.Tensor:
        """Encoder outputs (B', n_tokens, d_model) -> head outputs at the output_chunk_length forecast
        steps (B', output_chunk_length, series_dim * nr_params): each horizon patch decodes its steps.

        Parameters
        ----------
        h
            (B', n_tokens, d_model): the encoder's outputs.

        Returns
        -------
        torch.Tensor
            (B', output_chunk_length, series_dim * nr_params).
        """
        P = self.patch_len
        n_out = (self.L - self.input_chunk_length + self.pad_back) // P  # tokens of the masked part
        y = self.head(h[:, -n_out:])
        y = y.reshape(y.shape[0], n_out * P, -1)
        return y[:, self.output_chunk_shift : self.output_chunk_shift + self.output_chunk_length]

    def residual(self, centred: torch.Tensor, x_in: PLModuleInput) -> torch.Tensor:
        B, L_in, _ = centred.shape
        future = future_covariates(x_in, self.output_chunk_shift, self.output_chunk_length)
        x = self.sequence(centred, self.L - L_in, x_in.past_covariates, future, x_in.static_covariates)
        return self.predictions(self.horizon(self.encoder(self.tokens(x), self.encoder_rate())), B)


def _set_weights(linear: nn.Linear, weight: torch.Tensor, bias: torch.Tensor) -> None:
    """Give ``linear`` new weights of another shape (a resampled axis)."""
    linear.weight = nn.Parameter(weight)
    linear.bias = nn.Parameter(bias)
    linear.out_features, linear.in_features = weight.shape
