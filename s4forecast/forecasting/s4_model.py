"""S4Model: S4 as a Darts torch forecasting model, the adapter between Darts and the networks of the
layouts (``layouts.py``), its defaults (``defaults.py``), input checks (``inputs.py``) and saving."""

from __future__ import annotations

import dataclasses

from darts.logging import raise_log
from darts.models.forecasting.torch_forecasting_model import MixedCovariatesTorchModel
from darts.utils.data.torch_datasets.utils import TorchTrainingSample
from darts.utils.serialization import add_safe_globals
from torch import nn

from s4forecast.forecasting.darts_private import default_save_path, pl_module_params, torch_model_params
from s4forecast.forecasting.darts_private import use_static_covariates as use_static_covariates_of
from s4forecast.forecasting.defaults import DEFAULT_LR, DEFAULTS, default_subtract_last, optimiser_defaults, window_defaults
from s4forecast.forecasting.distributed import one_process_trainer, spans_processes
from s4forecast.forecasting.inputs import check_arguments, check_finite, check_fit_inputs, checked_options, series_arguments
from s4forecast.forecasting.layouts import LAYOUTS, LINEAR_INITS, build_network, linear_start
from s4forecast.forecasting.masked import MaskedNetwork
from s4forecast.forecasting.resampling import resampled_copy
from s4forecast.forecasting.saving import load_model, write_network_checkpoint
from s4forecast.nn import S4Options

_S4Module = MaskedNetwork  # the network's name in models saved before the layouts had modules of their own


class S4Model(MixedCovariatesTorchModel):
    def __init__(
        self,
        input_chunk_length: int,
        output_chunk_length: int,
        output_chunk_shift: int = 0,
        d_model: int = DEFAULTS.d_model,
        n_layers: int = DEFAULTS.n_layers,
        d_state: int = DEFAULTS.d_state,
        mode: str = DEFAULTS.mode,
        init: str = DEFAULTS.init,
        discretization: str = DEFAULTS.discretization,
        rank: int = DEFAULTS.rank,
        dt_min: float | None = None,
        dt_max: float | None = None,
        ssm_lr: float | None = DEFAULT_LR,
        bidirectional: bool = DEFAULTS.bidirectional,
        dropout: float = DEFAULTS.dropout,
        prenorm: bool = DEFAULTS.prenorm,
        norm: str = DEFAULTS.norm,
        backend: str = DEFAULTS.backend,
        convolution: str = DEFAULTS.convolution,
        activation: str = DEFAULTS.activation,
        postact: str = DEFAULTS.postact,
        channel_independent: bool = False,
        subtract_last: bool | None = None,
        linear_skip: bool = True,
        linear_init: str = "zero",
        layout: str = "masked",
        decoder_dt_min: float | None = None,
        decoder_dt_max: float | None = None,
        patch_len: int | None = None,
        rate: float = 1.0,
        use_static_covariates: bool = True,
        **kwargs,
    ):
        """S4 forecasting model (Gu, Goel, Ré, ICLR 2022): masked sequence-to-sequence (App. D.3.5), or S4
        over the lookback window with a linear head or a closed-loop decoder (``layout``).

        Supports past, future and static covariates, multiple and multivariate series, likelihoods, and
        every argument of Darts' torch models (``likelihood``, ``pl_trainer_kwargs``, ``n_epochs``, ...).

        The defaults are what S4's eight Informer studies (swept on val) favour across datasets: a width-64,
        two-layer encoder over patches of 16 steps, reversible instance norm (Darts'
        ``use_reversible_instance_norm``, on unless given), the window centred on its last value and a
        linear skip, so that a level outside the training range (a random walk) is forecast from where
        the window ends, and learning rates of 3e-4 (benchmarks/informer/results/defaults.md; those before
        0.2: ``forecasting/defaults.py``).

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
            uses the optimiser's lr. The optimiser's own lr is 3e-4 too unless ``optimizer_kwargs`` names
            one (Darts' models default to 1e-3).
        bidirectional
            Let each position also read later positions (e.g. later future covariates).
        dropout, prenorm, norm
            Dropout probability (Monte Carlo dropout too); pre- or post-norm blocks; ``layer`` or ``batch`` norm.
        backend, convolution
            The Cauchy kernel's backend (``auto``, ``torch``, ``keops``, ``triton``, ``naive``); how each layer
            applies its kernel: ``fft``, ``direct`` (a Toeplitz product) or ``auto`` (direct up to 64 positions).
        activation, postact
            Each S4 layer's activation (``gelu``, ``silu``, ``relu``, ``tanh``, ``identity``) and output map
            (``glu``: Linear(H, 2H) + GLU; ``linear``: Linear(H, H)), as in S4Classifier.
        channel_independent
            Forecast each target component as its own univariate sequence with shared weights
            (covariates shared across components).
        subtract_last
            Centre each window on its last target value and add it back to the forecast (NLinear's
            normalisation; after reversible instance norm). It shifts every predicted parameter: ``None``
            (default) is on for point forecasts and quantile regression, off with other likelihoods.
        linear_skip
            Add a linear map of each target component's input window to the forecast (shared by all
            components, one per likelihood parameter; after ``subtract_last``): NLinear's whole model,
            TiDE's global residual; S4 learns what it misses. Default on.
        linear_init
            How the linear skip starts: ``zero`` (the plain S4 model), or ``ridge``: at the closed-form
            ridge fit of the window -> horizon map on the training windows, normalised as the network
            normalises them (strength chosen on ``val_series``, else on the last fifth of the training
            windows; ``ridge.py``), the S4 part's output at zero: the untrained model forecasts as the best
            linear map does; ``ridge-fixed``: that start kept, only S4's correction trains. Needs ``linear_skip``.
        layout
            ``masked`` (the paper's, App. D.3.5): the encoder reads the context then the masked horizon,
            each horizon position (or patch) decoded from its output. ``lookback``: the context only, one
            linear head from the encoded window to the horizon. ``closed_loop`` (SpaceTime): the context
            only, the horizon rolled out by a decoder SSM with a learned feedback (``closed_loop.py``).
            ``stream`` and ``with_rate`` need ``masked``.
        decoder_dt_min, decoder_dt_max
            The closed-loop decoder SSM's initial Δ range; ``None``: the default range of its tokens (as for
            ``dt_min`` / ``dt_max``), whatever the encoder's (lower val at 3 of 5 studies: informer/README.md).
        patch_len
            Run the encoder over non-overlapping patches of this many steps (1: the paper's per-step
            layout): context and masked horizon zero-padded to whole patches, a patch one token whose
            output decodes its steps, one SSM step Δ a patch; cost falls about ``patch_len``-fold.
            ``stream`` needs 1. ``None`` (default): 16 when ``input_chunk_length >= 128`` (PatchTST's
            patch at lookbacks of 336 and 512), else 1.
        rate
            Multiplies every step size Δ (S4 Sec. 4.3); :meth:`with_rate` sets it on a fitted model.
        use_static_covariates
            Whether to use the series' static covariates.
        """
        # the defaults that depend on the window; model_params keep None, so untrained_model() re-resolves
        patch_len, dt_min, dt_max = window_defaults(input_chunk_length, patch_len, dt_min, dt_max)
        subtract_last = default_subtract_last(kwargs.get("likelihood")) if subtract_last is None else subtract_last
        check_arguments(locals(), LAYOUTS, LINEAR_INITS)
        options = checked_options(**{k: v for k, v in locals().items() if k in S4Options.names()})  # built once, here
        super().__init__(**torch_model_params(self))
        self.pl_module_params = optimiser_defaults(self.model_params, pl_module_params(self))
        self.encoder_kwargs = dataclasses.asdict(options)  # a plain dict in the network's hparams (checkpoints)
        self.ssm_lr = ssm_lr
        self.channel_independent = channel_independent
        self.subtract_last = subtract_last
        self.linear_skip = linear_skip
        self.linear_init = linear_init
        self.layout = layout
        self.decoder_dt = window_defaults(input_chunk_length, patch_len, decoder_dt_min, decoder_dt_max)[1:]  # closed_loop's
        self._linear_start = None  # the ridge fit of the latest fit() call's series (linear_init='ridge')
        self.patch_len = patch_len
        self.rate = rate
        use_static_covariates_of(self, use_static_covariates)

    @property
    def supports_static_covariates(self) -> bool:
        return True

    def _create_model(self, train_sample: TorchTrainingSample) -> nn.Module:
        start, self._linear_start = self._linear_start, None  # not saved with the model: its network holds it
        return build_network(self, train_sample, start)

    def fit(self, series, *args, **kwargs):
        """Darts' ``fit``, after checking every series for NaNs and length, and fitting the ridge start.

        Parameters
        ----------
        series, *args, **kwargs
            Darts' ``fit`` arguments (``past_covariates``, ``val_series``, ...), bound to its signature.

        Returns
        -------
        S4Model
        """
        named = series_arguments(super().fit, series, *args, **kwargs)
        check_fit_inputs(self, named)
        self._linear_start = linear_start(self, series, named.get("val_series"))
        return super().fit(series, *args, **kwargs)

    def stream(self, series):
        """A stateful forecaster that has consumed ``series`` (the history) by the recurrent view.

        Parameters
        ----------
        series

        Returns
        -------
        S4Stream
            ``update(new_values)`` costs O(N) a step, ``forecast(n)`` runs only the horizon.
        """
        from s4forecast.forecasting.streaming import S4Stream

        check_finite("series", series)
        return S4Stream(self, series)

    def with_rate(self, rate: float, resample: bool = True) -> S4Model:
        """A copy of this fitted model for data sampled with steps ``rate`` times as long, without
        retraining (S4 Sec. 4.3; what is resampled: :func:`~s4forecast.forecasting.resampling.resampled_copy`).

        Parameters
        ----------
        rate
            The new data's step over the training data's: 0.25 runs an hourly model on 15-minute data.
        resample
            Resample chunk lengths, patches and the linear skip too (True), or only multiply Δ (False).

        Returns
        -------
        S4Model
            The copy (it saves, loads and rebuilds with its new lengths and rate); this model is unchanged.
        """
        return resampled_copy(self, rate, resample)

    def save(self, path: str | None = None, clean: bool = False) -> None:
        """Darts' ``save``; a network no trainer holds (a :meth:`with_rate` copy, a loaded model) is written
        from the network itself, so the file always holds the weights in use.

        Parameters
        ----------
        path, clean
            Darts' (the checkpoint goes to ``path + ".ckpt"``).
        """
        path = path or default_save_path(self)
        super().save(path, clean)
        if self.model is not None and self.trainer is None:
            write_network_checkpoint(self.model, path + ".ckpt")

    @staticmethod
    def load(path, *args, **kwargs) -> S4Model:
        """Darts' ``load``; a file that is not a saved S4Model raises a ValueError that names it.

        Parameters
        ----------
        path, *args, **kwargs
            Darts' ``load`` arguments.

        Returns
        -------
        S4Model
        """
        return load_model(path, S4Model, *args, **kwargs)

    def to_onnx(self, path: str | None = None, **kwargs) -> None:
        """Darts' ``to_onnx`` (run with ``darts.utils.onnx.run_onnx_prediction``), the S4 kernels and a
        closed-loop rollout constants of the graph (``onnx_export.py``; ``pip install 's4forecast[onnx]'``).

        Parameters
        ----------
        path, **kwargs
            Darts' ``to_onnx`` arguments.
        """
        from s4forecast.forecasting.onnx_export import frozen_kernels

        if self.model is None:
            raise_log(ValueError("`fit()` needs to be called before `to_onnx()`"))
        with frozen_kernels(self.model):
            return super().to_onnx(path, **kwargs)

    def predict_from_dataset(self, n, dataset, trainer=None, batch_size=None, verbose=None, *args, **kwargs):
        """Darts' ``predict_from_dataset`` (which ``predict`` and ``historical_forecasts`` use); a model trained
        on several processes (DDP) predicts on one, in each process (``distributed.py``)."""
        if trainer is None and spans_processes(self.trainer_params):
            trainer = one_process_trainer(self.trainer_params, verbose)
        return super().predict_from_dataset(n, dataset, trainer, batch_size, verbose, *args, **kwargs)

    def predict(self, n, *args, **kwargs):
        """Darts' ``predict``, after checking the inputs for NaNs.

        Parameters
        ----------
        n, *args, **kwargs
            Darts' ``predict`` arguments (``series``, covariates, ``num_samples``, ...).

        Returns
        -------
        TimeSeries or list of TimeSeries
        """
        for name, value in series_arguments(super().predict, n, *args, **kwargs).items():
            check_finite(name, value)
        return super().predict(n, *args, **kwargs)


# Darts loads saved models through an allow-list of globals: S4Model is safe to load like Darts' own.
add_safe_globals([S4Model])
