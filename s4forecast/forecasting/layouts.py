"""The forecasting networks an S4Model can build (``layout=``), and the one call that builds one for Darts'
training sample: the masked sequence-to-sequence of the paper (App. D.3.5; ``masked.py``), S4 over the
lookback window with a linear head (``lookback.py``), or with a closed-loop SSM decoder (SpaceTime;
``closed_loop.py``), its linear skip started as ``linear_init`` says."""

from __future__ import annotations

import torch
from darts.logging import raise_log
from darts.utils.data.torch_datasets.utils import TorchTrainingSample

from s4forecast.forecasting.closed_loop import ClosedLoopNetwork
from s4forecast.forecasting.inputs import as_list
from s4forecast.forecasting.lookback import LookbackNetwork
from s4forecast.forecasting.masked import MaskedNetwork
from s4forecast.forecasting.network import ForecastNetwork
from s4forecast.forecasting.ridge import RidgeFit, ridge_fit

LAYOUTS = {"masked": MaskedNetwork, "lookback": LookbackNetwork, "closed_loop": ClosedLoopNetwork}  # layout -> network class
LINEAR_INITS = ("zero", "ridge", "ridge-fixed")


def build_network(model, train_sample: TorchTrainingSample, linear_start: RidgeFit | None) -> ForecastNetwork:
    """The network of ``model`` (an S4Model) for the dimensions of ``train_sample``; with
    ``linear_init='ridge'`` its linear skip starts at ``linear_start``, the ridge fit of the series given
    to ``fit()``.

    Parameters
    ----------
    model
        The S4Model.
    train_sample
        Darts' training sample (its components' dimensions).
    linear_start
        The ridge fit, or None.

    Returns
    -------
    ForecastNetwork
    """
    dims = train_sample.component_dims()
    static = train_sample.static_covariates
    network = LAYOUTS[model.layout](
        target_dim=dims["past_target"],
        past_cov_dim=dims["past_covariates"] or 0,
        future_cov_dim=dims["future_covariates"] or dims["historic_future_covariates"] or 0,
        static_cov_dim=static.size if static is not None else 0,
        nr_params=1 if model.likelihood is None else model.likelihood.num_parameters,
        channel_independent=model.channel_independent,
        ssm_lr=model.ssm_lr,
        encoder_kwargs=model.encoder_kwargs,
        subtract_last=model.subtract_last,
        linear_skip=model.linear_skip,
        linear_fixed=model.linear_init == "ridge-fixed",
        patch_len=model.patch_len,
        rate=model.rate,
        **({"decoder_dt": model.decoder_dt} if model.layout == "closed_loop" else {}),
        **model.pl_module_params,
    )
    if model.linear_init != "zero":
        if linear_start is None:
            raise_log(
                ValueError(
                    f"linear_init={model.linear_init!r} fits the linear start on the series given to fit(); call "
                    "fit() (not fit_from_dataset()), or use linear_init='zero'"
                )
            )
        network.start_from_linear(torch.as_tensor(linear_start.weight), torch.as_tensor(linear_start.bias))
    return network


def linear_start(model, series, val_series) -> RidgeFit | None:
    """What ``fit(series, val_series=...)`` starts ``model``'s linear skip at: for ``linear_init='ridge'`` (or
    ``'ridge-fixed'``)
    the ridge fit of the window -> horizon map on the training windows, normalised as the network
    normalises them (``ridge.py``); None for ``zero``.

    Parameters
    ----------
    model
        The S4Model.
    series, val_series
        As given to ``fit()``.

    Returns
    -------
    RidgeFit or None
    """
    if model.linear_init == "zero":
        return None
    return ridge_fit(
        [s.values(copy=False) for s in as_list(series)],
        model.input_chunk_length,
        model.output_chunk_shift,
        model.output_chunk_length,
        rin=bool(model.pl_module_params.get("use_reversible_instance_norm", False)),
        subtract_last=model.subtract_last,
        val_values=[s.values(copy=False) for s in as_list(val_series)],
    )
