"""S4Model: S4 as a Darts torch forecasting model (S4 paper App. D.3.5, masked sequence-to-sequence).

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

import copy
import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from darts.logging import raise_log
from darts.models.forecasting.pl_forecasting_module import PLForecastingModule, io_processor
from darts.models.forecasting.torch_forecasting_model import MixedCovariatesTorchModel
from darts.utils.data.torch_datasets.utils import PLModuleInput, PLModuleOutput, TorchTrainingSample
from darts.utils.likelihood_models import QuantileRegression
from darts.utils.serialization import add_safe_globals
from darts.utils.torch import MonteCarloDropout
from torch import nn

from s4forecast.forecasting.resampling import resample_axis
from s4forecast.nn import S4Encoder, S4Options
from s4forecast.nn.options import is_integer, is_positive_finite
from s4forecast.optim import param_groups, with_fused


def _mc_dropout(module: nn.Module) -> nn.Module:
    """Swap every nn.Dropout for Darts' MonteCarloDropout (same p) so ``mc_dropout=True`` works."""
    for name, child in module.named_children():
        if type(child) is nn.Dropout:
            setattr(module, name, MonteCarloDropout(child.p))
        else:
            _mc_dropout(child)
    return module


class _S4Module(PLForecastingModule):
    def __init__(
        self,
        target_dim: int,
        past_cov_dim: int,
        future_cov_dim: int,
        static_cov_dim: int,
        nr_params: int,
        channel_independent: bool,
        ssm_lr: float | None,
        encoder_kwargs: dict,
        subtract_last: bool = False,
        linear_skip: bool = False,
        patch_len: int = 1,
        rate: float = 1.0,
        l_max: int | None = None,
        **kwargs,
    ):
        """The network. Forward returns (batch, output_chunk_length, target_dim, nr_params).

        ``l_max``: the length the S4 kernels are parametrised for (C̃ = C (I - Ā^l_max), Sec. 3.3);
        ``None`` is the number of encoder positions. A resampled network keeps its original one."""
        super().__init__(**kwargs)
        self.target_dim, self.nr_params = target_dim, nr_params
        self.subtract_last = subtract_last
        self.channel_independent, self.ssm_lr = channel_independent, ssm_lr
        series_dim = 1 if channel_independent else target_dim
        d_input = series_dim + past_cov_dim + future_cov_dim + static_cov_dim + 1
        self._set_layout(patch_len)
        self.l_max = self.n_tokens if l_max is None else l_max
        self.encoder = _mc_dropout(S4Encoder(d_input * patch_len, l_max=self.l_max, **encoder_kwargs))
        self.head = nn.Linear(self.encoder.blocks[0].layer.d_model, patch_len * series_dim * nr_params)
        # (input_chunk_length,) -> (output_chunk_length * nr_params,) per component, shared by all components
        self.skip = nn.Linear(self.input_chunk_length, self.output_chunk_length * nr_params) if linear_skip else None
        if self.skip is not None:  # starts at zero: the untrained model is the plain S4 model
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)
        # multiplies every Δ (S4Model.with_rate); a buffer, so save/load and checkpoints keep it
        self.register_buffer("rate", torch.tensor(float(rate), dtype=torch.float64))

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
        """
        d_model = self.head.in_features
        self.input_chunk_length = round(self.input_chunk_length / rate)
        self._output_chunk_length = round(self._output_chunk_length / rate)
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
            output_chunk_length=self._output_chunk_length,
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
        """Encoder input by steps (B', L, d_input) -> by patches (B', n_tokens, patch_len * d_input)."""
        if self.patch_len == 1:
            return x
        x = F.pad(x, (0, 0, self.pad_front, self.pad_back))
        return x.reshape(x.shape[0], self.n_tokens, self.patch_len * x.shape[-1])

    def horizon(self, h: torch.Tensor) -> torch.Tensor:
        """Encoder outputs (B', n_tokens, d_model) -> head outputs at the output_chunk_length forecast
        steps (B', output_chunk_length, series_dim * nr_params): each horizon patch decodes its steps."""
        P = self.patch_len
        n_out = (self.L - self.input_chunk_length + self.pad_back) // P  # tokens of the masked part
        y = self.head(h[:, -n_out:])
        y = y.reshape(y.shape[0], n_out * P, -1)
        return y[:, self.output_chunk_shift : self.output_chunk_shift + self.output_chunk_length]

    def predictions(self, y: torch.Tensor, batch: int) -> torch.Tensor:
        """Head outputs at T horizon steps (B', T, series_dim * nr_params) -> (batch, T, target_dim, nr_params)."""
        T = y.shape[1]
        if self.channel_independent:
            y = y.reshape(batch, self.target_dim, T, self.nr_params).permute(0, 2, 1, 3)
        return y.reshape(batch, T, self.target_dim, self.nr_params)

    @io_processor
    def forward(self, x_in: PLModuleInput) -> PLModuleOutput:
        target = x_in.past_target
        B, L_in, _ = target.shape
        future = None
        if x_in.historic_future_covariates is not None or x_in.future_covariates is not None:
            hist, fut = x_in.historic_future_covariates, x_in.future_covariates
            width = (hist if hist is not None else fut).shape[-1]
            hist = hist if hist is not None else target.new_zeros(B, L_in, width)
            fut = fut if fut is not None else target.new_zeros(B, self.output_chunk_length, width)
            future = torch.cat([hist, target.new_zeros(B, self.output_chunk_shift, width), fut], 1)
        last = target[:, -1:] if self.subtract_last else None  # (B, 1, C)
        centred = target if last is None else target - last
        x = self.sequence(centred, self.L - L_in, x_in.past_covariates, future, x_in.static_covariates)
        prediction = self.predictions(self.horizon(self.encoder(self.tokens(x), float(self.rate))), B)
        if self.skip is not None:
            prediction = prediction + self.linear_forecast(centred)
        return PLModuleOutput(prediction=prediction if last is None else prediction + last[..., None])

    def linear_forecast(self, target: torch.Tensor) -> torch.Tensor:
        """The linear skip's term: target (B, input_chunk_length, C) -> (B, output_chunk_length, C, nr_params),
        one linear map of each component's window (NLinear's model; TiDE's global residual)."""
        B, _, C = target.shape
        y = self.skip(target.transpose(1, 2)).reshape(B, C, self.output_chunk_length, self.nr_params)
        return y.transpose(1, 2)

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


DT_RANGE_PER_STEP = (1e-3, 1e-1)  # S4 App. D.2
DT_RANGE_PER_PATCH = (1e-2, 1.0)  # chosen on val for patches of 16 steps (benchmarks/informer/README.md)
PATCH_FROM_LOOKBACK = 128  # input_chunk_length from which patch_len=None means 16


def default_patch_len(input_chunk_length: int) -> int:
    """``patch_len=None``: 16 for lookbacks of at least 128 steps (>= 8 context patches), else 1."""
    return 16 if is_integer(input_chunk_length) and input_chunk_length >= PATCH_FROM_LOOKBACK else 1


class S4Model(MixedCovariatesTorchModel):
    def __init__(
        self,
        input_chunk_length: int,
        output_chunk_length: int,
        output_chunk_shift: int = 0,
        d_model: int = 128,
        n_layers: int = 4,
        d_state: int = 64,
        mode: str = "nplr",
        init: str = "legs",
        discretization: str = "bilinear",
        rank: int = 1,
        dt_min: float | None = None,
        dt_max: float | None = None,
        ssm_lr: float | None = 1e-3,
        bidirectional: bool = False,
        dropout: float = 0.1,
        prenorm: bool = True,
        norm: str = "layer",
        backend: str = "auto",
        convolution: str = "auto",
        channel_independent: bool = False,
        subtract_last: bool = False,
        linear_skip: bool = False,
        patch_len: int | None = None,
        rate: float = 1.0,
        use_static_covariates: bool = True,
        **kwargs,
    ):
        """S4 forecasting model (Gu, Goel, Ré, ICLR 2022), masked sequence-to-sequence (App. D.3.5).

        Supports past, future and static covariates, multiple and multivariate series, likelihoods,
        and every argument of Darts' torch models (``likelihood``, ``use_reversible_instance_norm``,
        ``pl_trainer_kwargs``, ``optimizer_kwargs``, ``lr_scheduler_cls``, ``random_state``,
        ``n_epochs``, ``batch_size``, ``model_name``/``work_dir``/``save_checkpoints``, ...).

        Parameters
        ----------
        input_chunk_length, output_chunk_length, output_chunk_shift
            As in every Darts torch model: context length, horizon per forward pass, gap before it.
        d_model, n_layers
            Width and depth of the S4 encoder.
        d_state
            State size N of each SSM (even for nplr/diag: states come in conjugate pairs).
        mode
            ``nplr`` (S4), ``diag`` (S4D) or ``dense`` (LSSL reference; slow).
        init
            HiPPO measure (``legs``, ``legt``, ``lagt``, ``fout``, ``random``) or, with ``mode='diag'``,
            ``diag-lin``, ``diag-inv``, ``diag-legs``.
        discretization
            ``bilinear`` (the paper's) or ``zoh`` (diag/dense only).
        rank
            Rank of the low-rank term (``legt`` needs 2).
        dt_min, dt_max
            Range of the log-uniform initial step size Δ per channel, in units of one encoder position
            (a step, or a patch). ``None``: 1e-3 and 1e-1 for a per-step model (the paper's), 1e-2 and
            1.0 for a patched one (chosen on val with patch_len 16: benchmarks/informer/README.md).
        ssm_lr
            Learning rate of the SSM parameters (Λ, P, B, C, Δ), which get no weight decay; ``None``
            uses the optimiser's lr.
        bidirectional
            Let each position also read later positions (e.g. later future covariates).
        dropout, prenorm, norm
            Dropout probability (Monte Carlo dropout supported); pre- or post-norm residual blocks;
            ``layer`` or ``batch`` normalisation.
        backend
            Cauchy kernel backend: ``auto``, ``torch``, ``keops``, ``naive``.
        convolution
            How each layer applies its kernel: ``auto`` (a Toeplitz matrix product up to 32 encoder
            positions, as S4 over patches has, else by FFT), ``fft`` or ``direct``; the same sums.
        channel_independent
            Forecast each target component as its own univariate sequence with shared weights
            (covariates shared across components).
        subtract_last
            Centre each input window on its last observed target value and add that value back to the
            forecast (NLinear's normalisation; after reversible instance norm when both are on). Point
            forecasts and quantile likelihoods only, since it shifts every predicted parameter.
        linear_skip
            Add a linear map of each target component's input window to the forecast (one map shared
            by all components, one per likelihood parameter; after ``subtract_last`` when both are on):
            NLinear's whole model, TiDE's global residual. The S4 encoder then learns what a linear
            extrapolation of the window misses. The map starts at zero, so training starts from the
            plain S4 model.
        patch_len
            Run the encoder over non-overlapping patches of this many steps instead of single steps (1:
            the paper's per-step layout). The context and the masked horizon are zero-padded to whole
            patches, each patch is one token, and each horizon token decodes its ``patch_len`` steps;
            one SSM step Δ spans a patch. Training and prediction cost fall about ``patch_len``-fold.
            Streaming needs ``patch_len=1``; ``with_rate`` resamples a patch to the same span of time.
            ``None`` (default): 16 when
            ``input_chunk_length >= 128`` (PatchTST's patch at lookbacks of 336 and 512), else 1.
        rate
            Multiplies every step size Δ (S4 Sec. 4.3); :meth:`with_rate` sets it on a fitted model, and
            ``save``/``load`` and ``untrained_model()`` keep it.
        use_static_covariates
            Whether to use the series' static covariates.
        """
        # the defaults that depend on the window; model_params keep None, so untrained_model() re-resolves
        patch_len = default_patch_len(input_chunk_length) if patch_len is None else patch_len
        default_dt = DT_RANGE_PER_STEP if patch_len == 1 else DT_RANGE_PER_PATCH
        dt_min = default_dt[0] if dt_min is None else dt_min
        dt_max = default_dt[1] if dt_max is None else dt_max
        self._validate(locals())
        super().__init__(**self._extract_torch_model_params(**self.model_params))
        self.pl_module_params = self._extract_pl_module_params(**self.model_params)
        # the encoder's options, validated in _validate (S4Options); a plain dict in the module's hparams
        self.encoder_kwargs = dataclasses.asdict(S4Options.pick(locals()))
        self.ssm_lr = ssm_lr
        self.channel_independent = channel_independent
        self.subtract_last = subtract_last
        self.linear_skip = linear_skip
        self.patch_len = patch_len
        self.rate = rate
        self._considers_static_covariates = use_static_covariates

    @staticmethod
    def _validate(p: dict) -> None:
        """Reject invalid S4 hyperparameters before any training, naming the argument."""

        def check(ok, message):
            if not ok:
                raise_log(ValueError(message))

        for name in ("input_chunk_length", "output_chunk_length", "patch_len"):
            check(is_integer(p[name]) and p[name] >= 1, f"`{name}` must be a positive integer; got {p[name]!r}")
        check(
            is_integer(p["output_chunk_shift"]) and p["output_chunk_shift"] >= 0,
            f"`output_chunk_shift` must be a non-negative integer; got {p['output_chunk_shift']!r}",
        )
        try:
            S4Options.pick(p)  # mode, init, d_state, discretization, rank, dt, dropout, backend, norm, ...
        except ValueError as e:
            raise_log(ValueError(str(e)))
        check(is_positive_finite(p["rate"]), f"`rate` must be a positive finite number; got {p['rate']!r}")
        check(p["ssm_lr"] is None or p["ssm_lr"] > 0, f"`ssm_lr` must be positive or None; got {p['ssm_lr']}")
        likelihood = p["kwargs"].get("likelihood")
        check(
            not p["subtract_last"] or likelihood is None or isinstance(likelihood, QuantileRegression),
            f"`subtract_last` shifts every predicted parameter, so it needs point forecasts or QuantileRegression; "
            f"got likelihood {type(likelihood).__name__}",
        )

    @property
    def supports_static_covariates(self) -> bool:
        return True

    @property
    def supports_multivariate(self) -> bool:
        return True

    def _create_model(self, train_sample: TorchTrainingSample) -> nn.Module:
        dims = train_sample.component_dims()
        static = train_sample.static_covariates
        return _S4Module(
            target_dim=dims["past_target"],
            past_cov_dim=dims["past_covariates"] or 0,
            future_cov_dim=dims["future_covariates"] or dims["historic_future_covariates"] or 0,
            static_cov_dim=int(np.prod(static.shape)) if static is not None else 0,
            nr_params=1 if self.likelihood is None else self.likelihood.num_parameters,
            channel_independent=self.channel_independent,
            ssm_lr=self.ssm_lr,
            encoder_kwargs=self.encoder_kwargs,
            subtract_last=self.subtract_last,
            linear_skip=self.linear_skip,
            patch_len=self.patch_len,
            rate=self.rate,
            **self.pl_module_params,
        )

    def fit(
        self,
        series,
        past_covariates=None,
        future_covariates=None,
        val_series=None,
        val_past_covariates=None,
        val_future_covariates=None,
        *args,
        **kwargs,
    ):
        """Darts' ``fit``, after checking every series for NaNs and for enough length."""
        named = {
            "series": series,
            "past_covariates": past_covariates,
            "future_covariates": future_covariates,
            "val_series": val_series,
            "val_past_covariates": val_past_covariates,
            "val_future_covariates": val_future_covariates,
        }
        for name, value in named.items():
            _check_finite(name, value)
        needed = self.input_chunk_length + self.output_chunk_shift + self.output_chunk_length
        for name in ("series", "val_series"):
            for i, s in enumerate(_as_list(named[name])):
                if len(s) < needed:
                    raise_log(
                        ValueError(
                            f"`{name}`[{i}] has {len(s)} time steps, fewer than input_chunk_length + output_chunk_shift "
                            f"+ output_chunk_length = {needed}: shorten the chunks or provide a longer series"
                        )
                    )
        return super().fit(
            series, past_covariates, future_covariates, val_series, val_past_covariates, val_future_covariates, *args, **kwargs
        )

    def stream(self, series):
        """An :class:`~s4forecast.forecasting.streaming.S4Stream` that has consumed ``series``: then
        ``update(new_values)`` costs O(N) per step and ``forecast(n)`` runs only the horizon steps."""
        from s4forecast.forecasting.streaming import S4Stream

        _check_finite("series", series)
        return S4Stream(self, series)

    def with_rate(self, rate: float, resample: bool = True) -> S4Model:
        """A copy of this fitted model for data sampled with steps ``rate`` times as long, without
        retraining (S4 Sec. 4.3): a model trained on hourly data runs on 15-minute data with
        ``rate=0.25``, a 15-minute model on hourly data with ``rate=4``.

        ``resample=True`` (default) resamples the whole model, so that it reads the same span of time
        and forecasts the same span ahead: every step size Δ x ``rate``; ``input_chunk_length``,
        ``output_chunk_length`` and ``output_chunk_shift`` divided by ``rate``; a patch keeps its span
        (``patch_len / rate`` steps, the patch embedding and head resampled by linear interpolation, Δ
        per patch unchanged); the linear skip reads the new window and writes the new horizon through
        linear interpolation. The values are taken as point samples of one signal (ETTh1 is ETTm1 on
        the hour). Every resampled length must be a whole number of steps.

        ``resample=False`` only multiplies Δ: chunk lengths stay in steps (and so cover another span),
        which needs ``patch_len=1`` and ``linear_skip=False``.

        The copy saves, loads and rebuilds (``untrained_model()``) with its new lengths and rate.
        """
        if self.model is None:
            raise_log(ValueError("with_rate() needs a fitted model: call fit() first"))
        if not is_positive_finite(rate):
            raise_log(ValueError(f"rate must be a positive finite number; got {rate!r}"))
        if not resample and self.patch_len > 1:
            raise_log(
                ValueError(f"with_rate(resample=False) needs patch_len=1: a patch is {self.patch_len} steps of the training rate")
            )
        if not resample and self.linear_skip:
            raise_log(
                ValueError(
                    "with_rate(resample=False) needs linear_skip=False: the skip's weights are per step of the training rate"
                )
            )
        names = ("input_chunk_length", "output_chunk_length", "output_chunk_shift") + (
            ("patch_len",) if self.patch_len > 1 else ()
        )
        lengths = {name: getattr(self, name) for name in names}
        new = {name: _resampled(name, n, rate) for name, n in lengths.items()} if resample else {}
        clone = copy.deepcopy(self)  # Darts' pickling state leaves out the network and trainer
        clone.model = copy.deepcopy(self.model)
        if resample:
            clone.model.resample_(rate)
        else:
            clone.model.rate.mul_(rate)
        clone.rate = float(clone.model.rate)
        clone.patch_len = clone.model.patch_len
        clone._model_params = {**self.model_params, **new, "rate": clone.rate}  # save/load and untrained_model() keep them
        clone.pl_module_params = {**self.pl_module_params, **{k: v for k, v in new.items() if k in self.pl_module_params}}
        if resample and self.encoders is not None and self.encoders.encoding_available:
            clone.encoders = _resized_encoders(clone, self.encoders)
        return clone

    @staticmethod
    def load(path, *args, **kwargs) -> S4Model:
        """Darts' ``load``; a file that is not a saved S4Model raises a ValueError that names it (Darts'
        own error for a corrupted file comes from deep inside its restricted unpickler)."""
        try:
            model = MixedCovariatesTorchModel.load(path, *args, **kwargs)
        except FileNotFoundError:
            raise
        except Exception as e:  # noqa: BLE001 - any unpickling failure means the same thing here
            raise_log(ValueError(f"{path} is not a readable saved model ({type(e).__name__}: {e})"))
        if not isinstance(model, S4Model):
            raise_log(ValueError(f"{path} holds a {type(model).__name__}, not an S4Model"))
        return model

    def predict(self, n, series=None, past_covariates=None, future_covariates=None, *args, **kwargs):
        """Darts' ``predict``, after checking the inputs for NaNs."""
        for name, value in {"series": series, "past_covariates": past_covariates, "future_covariates": future_covariates}.items():
            _check_finite(name, value)
        return super().predict(n, series, past_covariates, future_covariates, *args, **kwargs)


def _resampled(name: str, n: int, rate: float) -> int:
    """``n / rate`` steps, which must be a whole number (at least 1 for a patch)."""
    steps = n / rate
    if abs(steps - round(steps)) > 1e-9 * max(1.0, steps) or (name == "patch_len" and round(steps) < 1):
        raise_log(
            ValueError(f"with_rate({rate}) needs {name} / rate to be a whole number of steps; {name} {n} / {rate} = {steps:g}")
        )
    return round(steps)


def _set_weights(linear: nn.Linear, weight: torch.Tensor, bias: torch.Tensor) -> None:
    """Give ``linear`` new weights of another shape (a resampled axis)."""
    linear.weight = nn.Parameter(weight)
    linear.bias = nn.Parameter(bias)
    linear.out_features, linear.in_features = weight.shape


def _resized_encoders(model: S4Model, fitted):
    """Darts' covariate encoders for ``model``'s new chunk lengths, keeping the fitted transformers."""
    encoders = model.initialize_encoders()
    for name in ("_past_transformer", "_future_transformer", "_past_components", "_future_components", "_fit_called"):
        setattr(encoders, name, getattr(fitted, name))
    return encoders


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, Sequence) else [value]


def _check_finite(name: str, value) -> None:
    for i, s in enumerate(_as_list(value)):
        values = s.values(copy=False)
        if not np.isfinite(values).all():
            bad = s.time_index[~np.isfinite(values).all(axis=tuple(range(1, values.ndim)))]
            raise_log(
                ValueError(
                    f"`{name}`[{i}] contains NaN/Inf values (first at {bad[0]}); fill or drop them before "
                    "fitting, e.g. with darts.utils.missing_values.fill_missing_values"
                )
            )


# Darts loads saved models through an allow-list of globals: S4Model is safe to load like Darts' own.
add_safe_globals([S4Model])
