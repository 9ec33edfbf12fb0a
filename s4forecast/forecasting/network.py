"""What every S4Model network shares, whatever its layout: centring, the linear skip, Δ's rate, optimiser.

A layout (``masked.py``, ``lookback.py``) subclasses :class:`ForecastNetwork` and implements
:meth:`ForecastNetwork.residual`, the S4 encoder's part of the forecast; this class adds the rest::

    forecast = last + skip(window - last) + residual(window - last, covariates)

(``last`` with ``subtract_last``, the skip with ``linear_skip``; Darts' reversible instance norm, when on,
wraps the whole in its normalisation). With ``linear_init='ridge'`` the skip starts at its closed-form
ridge fit on the training windows (``ridge.py``) and the residual at zero: the untrained network is the
best linear map of the window, and training moves it only where its loss falls.
"""

from __future__ import annotations

import torch
from darts.models.forecasting.pl_forecasting_module import PLForecastingModule, io_processor
from darts.utils.data.torch_datasets.utils import PLModuleInput, PLModuleOutput
from darts.utils.torch import MonteCarloDropout
from torch import nn

from s4forecast.optim import param_groups, with_fused


class ForecastNetwork(PLForecastingModule):
    """Forward returns (batch, output_chunk_length, target_dim, nr_params).

    Parameters
    ----------
    target_dim
        The target's components.
    nr_params
        Parameters per forecast value (the likelihood's; 1 for point forecasts).
    channel_independent
        Each component as its own sequence, with shared weights.
    ssm_lr
        The SSM parameters' learning rate (None: the optimiser's).
    subtract_last
        Centre the window on its last value.
    linear_skip
        Add the linear skip.
    linear_fixed
        Keep the skip at its start (not trained).
    rate
        Multiplies every Δ.
    **kwargs
        Darts' ``PLForecastingModule`` arguments (chunk lengths, optimiser, ...).
    """

    def __init__(
        self,
        target_dim: int,
        nr_params: int,
        channel_independent: bool,
        ssm_lr: float | None,
        subtract_last: bool = False,
        linear_skip: bool = False,
        linear_fixed: bool = False,
        rate: float = 1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.target_dim, self.nr_params = target_dim, nr_params
        self.subtract_last = subtract_last
        self.channel_independent, self.ssm_lr = channel_independent, ssm_lr
        self.series_dim = 1 if channel_independent else target_dim
        self.linear_skip, self.linear_fixed = linear_skip, linear_fixed
        self.skip: nn.Linear | None = None  # add_linear_skip(), after the layout's own layers
        # multiplies every Δ (S4Model.with_rate); a buffer, so save/load and checkpoints keep it
        self.register_buffer("rate", torch.tensor(float(rate), dtype=torch.float64))

    def encoder_rate(self) -> float:
        """Δ's multiplier (the ``rate`` buffer) as the number the encoder takes. Under torch.export (the ONNX
        export, ``onnx.py``) the S4 kernels are frozen at this rate and do not read it, and the buffer's
        value is data to the exporter: 1.0 is passed instead.

        Returns
        -------
        float
        """
        return 1.0 if torch.compiler.is_exporting() else float(self.rate)

    def add_linear_skip(self) -> None:
        """The linear skip (input_chunk_length,) -> (output_chunk_length * nr_params,) per component, shared by
        all components, at zero: the untrained model is the plain S4 model. A layout calls this after
        building its own layers, so that a seed draws the same weights and, after them, the same training
        randomness as models saved before the layouts had modules of their own. With ``linear_fixed`` the
        skip is not trained (it keeps the start :meth:`start_from_linear` gives it)."""
        if self.linear_skip:
            self.skip = nn.Linear(self.input_chunk_length, self.output_chunk_length * self.nr_params)
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)
            self.skip.requires_grad_(not self.linear_fixed)

    def residual(self, centred: torch.Tensor, x_in: PLModuleInput) -> torch.Tensor:
        """The S4 encoder's part of the forecast: ``centred`` (B, input_chunk_length, C), the window after
        centring -> (B, output_chunk_length, C, nr_params).

        Parameters
        ----------
        centred
            (B, input_chunk_length, C).
        x_in
            Darts' module input (covariates).

        Returns
        -------
        torch.Tensor
            (B, output_chunk_length, C, nr_params).
        """
        raise NotImplementedError

    @property
    def residual_head(self) -> nn.Linear:
        """The last linear map of :meth:`residual`: zero weights make the residual zero."""
        raise NotImplementedError

    @torch.no_grad()
    def start_from_linear(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Start as the linear map ``weight`` (output_chunk_length, input_chunk_length), ``bias``
        (output_chunk_length,) of the centred window, one per likelihood parameter, with a zero residual.

        Parameters
        ----------
        weight
            (output_chunk_length, input_chunk_length).
        bias
            (output_chunk_length,).
        """
        if self.skip is None:
            raise ValueError("start_from_linear needs linear_skip=True")
        ocl, icl, nr = self.output_chunk_length, self.input_chunk_length, self.nr_params
        if tuple(weight.shape) != (ocl, icl) or tuple(bias.shape) != (ocl,):
            raise ValueError(
                f"linear start: need weight ({ocl}, {icl}) and bias ({ocl},); got {tuple(weight.shape)}, {tuple(bias.shape)}"
            )
        w = weight.to(self.skip.weight)[:, None, :].expand(ocl, nr, icl)  # every parameter (quantiles) alike
        self.skip.weight.copy_(w.reshape(ocl * nr, icl))
        self.skip.bias.copy_(bias.to(self.skip.bias)[:, None].expand(ocl, nr).reshape(-1))
        nn.init.zeros_(self.residual_head.weight)
        nn.init.zeros_(self.residual_head.bias)

    @io_processor
    def forward(self, x_in: PLModuleInput) -> PLModuleOutput:
        target = x_in.past_target
        last = target[:, -1:] if self.subtract_last else None  # (B, 1, C)
        centred = target if last is None else target - last
        prediction = self.residual(centred, x_in)
        if self.skip is not None:
            prediction = prediction + self.linear_forecast(centred)
        return PLModuleOutput(prediction=prediction if last is None else prediction + last[..., None])

    def linear_forecast(self, target: torch.Tensor) -> torch.Tensor:
        """The linear skip's term: target (B, input_chunk_length, C) -> (B, output_chunk_length, C, nr_params),
        one linear map of each component's window (NLinear's model; TiDE's global residual).

        Parameters
        ----------
        target
            (B, input_chunk_length, C).

        Returns
        -------
        torch.Tensor
            (B, output_chunk_length, C, nr_params).
        """
        B, _, C = target.shape
        y = self.skip(target.transpose(1, 2)).reshape(B, C, self.output_chunk_length, self.nr_params)
        return y.transpose(1, 2)

    def predictions(self, y: torch.Tensor, batch: int) -> torch.Tensor:
        """Head outputs at T horizon steps (B', T, series_dim * nr_params) -> (batch, T, target_dim, nr_params).

        Parameters
        ----------
        y
            (B', T, series_dim * nr_params).
        batch
            B.

        Returns
        -------
        torch.Tensor
            (B, T, target_dim, nr_params).
        """
        T = y.shape[1]
        if self.channel_independent:
            y = y.reshape(batch, self.target_dim, T, self.nr_params).permute(0, 2, 1, 3)
        return y.reshape(batch, T, self.target_dim, self.nr_params)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # checkpoints written before `rate` became a buffer (s4forecast 0.1) hold no rate: theirs was 1
        checkpoint["state_dict"].setdefault("rate", torch.tensor(1.0, dtype=torch.float64))
        super().on_load_checkpoint(checkpoint)

    def configure_optimizers(self):
        """Darts' optimiser and scheduler, with the SSM parameters in their own group (lr ``ssm_lr``,
        no weight decay) instead of Darts' single group; fused where torch has it (``with_fused``)."""
        kwargs = dict(self.optimizer_kwargs)
        lr = kwargs.pop("lr", 1e-3)
        weight_decay = kwargs.pop("weight_decay", 0.0)
        groups = param_groups(self, lr, weight_decay, self.ssm_lr)
        optimizer = self.optimizer_cls(groups, **with_fused(self.optimizer_cls, groups, kwargs))
        if self.lr_scheduler_cls is None:
            return optimizer
        sched_kwargs = dict(self.lr_scheduler_kwargs)
        config = {
            k: sched_kwargs.pop(k, v)
            for k, v in {"monitor": "val_loss", "interval": "epoch", "frequency": 1, "strict": True, "name": None}.items()
        }
        return [optimizer], {"scheduler": self.lr_scheduler_cls(optimizer, **sched_kwargs), **config}


def future_covariates(x_in: PLModuleInput, output_chunk_shift: int, output_chunk_length: int) -> torch.Tensor | None:
    """The future covariates over the window, the shift and the horizon (B, L_in + shift + ocl, Cf), zeros
    where Darts gives none (the shift; a side that is absent), or None without future covariates.

    Parameters
    ----------
    x_in
        Darts' module input.
    output_chunk_shift, output_chunk_length
        The network's.

    Returns
    -------
    torch.Tensor or None
    """
    hist, fut = x_in.historic_future_covariates, x_in.future_covariates
    if hist is None and fut is None:
        return None
    target = x_in.past_target
    B, L_in, _ = target.shape
    width = (hist if hist is not None else fut).shape[-1]
    hist = hist if hist is not None else target.new_zeros(B, L_in, width)
    fut = fut if fut is not None else target.new_zeros(B, output_chunk_length, width)
    return torch.cat([hist, target.new_zeros(B, output_chunk_shift, width), fut], 1)


def mc_dropout(module: nn.Module) -> nn.Module:
    """Swap every nn.Dropout for Darts' MonteCarloDropout (same p) so ``mc_dropout=True`` works.

    Parameters
    ----------
    module
        Changed in place.

    Returns
    -------
    torch.nn.Module
        The same module.
    """
    for name, child in module.named_children():
        if type(child) is nn.Dropout:
            setattr(module, name, MonteCarloDropout(child.p))
        else:
            mc_dropout(child)
    return module
