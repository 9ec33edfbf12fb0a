"""S4Model's constructor arguments and series, checked at the user's call with an error that names them."""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np
from darts.logging import raise_log
from darts.utils.likelihood_models import QuantileRegression

from s4forecast.forecasting.defaults import window_defaults
from s4forecast.nn import S4Options
from s4forecast.nn.options import is_integer, is_positive_finite, require_bool
from s4forecast.optim import check_optimiser_numbers


def check_arguments(p: dict, layouts, linear_inits) -> None:
    """Reject invalid S4Model arguments (``p``: the constructor's locals) before any training, naming the
    argument; ``layouts`` and ``linear_inits`` are the valid ``layout`` and ``linear_init`` values.

    Parameters
    ----------
    p
        The constructor's locals.
    layouts, linear_inits
        The valid values.
    """

    def check(ok, message):
        if not ok:
            raise_log(ValueError(message))

    def rethrown(check_fn, *args, **kwargs):
        try:
            check_fn(*args, **kwargs)
        except ValueError as e:
            raise_log(ValueError(str(e)))

    for name in ("input_chunk_length", "output_chunk_length", "patch_len"):
        check(is_integer(p[name]) and p[name] >= 1, f"`{name}` must be a positive integer; got {p[name]!r}")
    check(
        is_integer(p["output_chunk_shift"]) and p["output_chunk_shift"] >= 0,
        f"`output_chunk_shift` must be a non-negative integer; got {p['output_chunk_shift']!r}",
    )
    check(is_positive_finite(p["rate"]), f"`rate` must be a positive finite number; got {p['rate']!r}")
    for name in ("channel_independent", "subtract_last", "linear_skip", "use_static_covariates"):
        rethrown(require_bool, name, p[name])
    optimizer = p["kwargs"].get("optimizer_kwargs") or {}
    rethrown(check_optimiser_numbers, optimizer.get("lr"), optimizer.get("weight_decay"), where="optimizer_kwargs: ")
    check(
        p["ssm_lr"] is None or is_positive_finite(p["ssm_lr"]),
        f"`ssm_lr` must be a positive finite number or None; got {p['ssm_lr']!r}",
    )
    check(p["layout"] in layouts, f"unknown `layout` {p['layout']!r}; valid: {', '.join(layouts)}")
    check(p["linear_init"] in linear_inits, f"unknown `linear_init` {p['linear_init']!r}; valid: {', '.join(linear_inits)}")
    check(
        p["linear_init"] == "zero" or p["linear_skip"] is True,
        f"`linear_init={p['linear_init']!r}` starts the linear skip, so it needs linear_skip=True",
    )
    for name in ("decoder_dt_min", "decoder_dt_max"):
        check(
            p[name] is None or is_positive_finite(p[name]), f"`{name}` must be a positive finite number or None; got {p[name]!r}"
        )
        check(
            p[name] is None or p["layout"] == "closed_loop",
            f"`{name}` sets the closed-loop decoder's Δ, so it needs layout='closed_loop'",
        )
    _, low, high = window_defaults(p["input_chunk_length"], p["patch_len"], p["decoder_dt_min"], p["decoder_dt_max"])
    check(low <= high, f"need `decoder_dt_min` <= `decoder_dt_max` (None: the default for the patch length); got {low}, {high}")
    likelihood = p["kwargs"].get("likelihood")
    check(
        not p["subtract_last"] or likelihood is None or isinstance(likelihood, QuantileRegression),
        f"`subtract_last` shifts every predicted parameter, so it needs point forecasts or QuantileRegression; "
        f"got likelihood {type(likelihood).__name__}",
    )


def checked_options(**values) -> S4Options:
    """The S4Model's S4 options, built once; a bad one raises the ValueError that names it through Darts' log.

    Parameters
    ----------
    **values
        :class:`~s4forecast.nn.options.S4Options` fields.

    Returns
    -------
    S4Options
    """
    try:
        return S4Options(**values)
    except ValueError as e:
        raise_log(ValueError(str(e)))


def as_list(value) -> list:
    """A series argument as a list of series (None: empty).

    Parameters
    ----------
    value
        A series, a sequence of series, or None.

    Returns
    -------
    list
    """
    if value is None:
        return []
    return list(value) if isinstance(value, Sequence) else [value]


def check_backend_runs(backend: str, trainer_params: dict) -> None:
    """Refuse, before training, a Cauchy backend that cannot run where the trainer trains (triton on a CPU
    without TRITON_INTERPRET; keops where pykeops cannot run): the kernel would fail at the first step.

    Parameters
    ----------
    backend
        The Cauchy backend asked for.
    trainer_params
        The trainer's keywords (its accelerator).
    """
    import torch

    from s4forecast.ssm import cauchy

    accelerator = str(trainer_params.get("accelerator", "auto"))
    device_type = "cuda" if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()) else "cpu"
    try:
        cauchy.resolve_backend(backend, device_type)
    except RuntimeError as e:
        raise_log(ValueError(f"`backend`: {e}"))


def check_finite(name: str, value) -> None:
    """Refuse a series (or list of series) ``name`` with NaN or Inf values or static covariates, naming the
    first time (or the static covariate).

    Parameters
    ----------
    name
        The argument's name, for the error.
    value
        A series, a list of series, or None.
    """
    for i, s in enumerate(as_list(value)):
        static = s.static_covariates
        if static is not None and (
            static.isna().to_numpy().any() or not np.isfinite(static.select_dtypes("number").to_numpy(dtype=float)).all()
        ):
            raise_log(ValueError(f"`{name}`[{i}] has NaN/Inf static covariates ({', '.join(map(str, static.columns))})"))
        values = s.values(copy=False)
        if not np.isfinite(values).all():
            bad = s.time_index[~np.isfinite(values).all(axis=tuple(range(1, values.ndim)))]
            raise_log(
                ValueError(
                    f"`{name}`[{i}] contains NaN/Inf values (first at {bad[0]}); fill or drop them before "
                    "fitting, e.g. with darts.utils.missing_values.fill_missing_values"
                )
            )


def check_long_enough(named: dict, needed: int) -> None:
    """Every series of ``named['series']`` and ``named['val_series']`` holds ``needed`` steps (one window).

    Parameters
    ----------
    named
        Argument name -> series.
    needed
        Steps of one training window.
    """
    for name in ("series", "val_series"):
        for i, s in enumerate(as_list(named.get(name))):
            if len(s) < needed:
                raise_log(
                    ValueError(
                        f"`{name}`[{i}] has {len(s)} time steps, fewer than input_chunk_length + output_chunk_shift "
                        f"+ output_chunk_length = {needed}: shorten the chunks or provide a longer series"
                    )
                )


SERIES_ARGUMENTS = (
    "series",
    "past_covariates",
    "future_covariates",
    "val_series",
    "val_past_covariates",
    "val_future_covariates",
)


def series_arguments(method, *args, **kwargs) -> dict:
    """The series arguments (:data:`SERIES_ARGUMENTS` that ``method`` takes) of a call ``method(*args,
    **kwargs)`` by name, bound by Darts' own signature of ``method`` (a bound method of the model), so that
    an override need not copy Darts' positional order; an argument Darts would refuse is left to Darts.

    Parameters
    ----------
    method
        A bound Darts method (``fit``, ``predict``).
    *args, **kwargs
        The call's arguments.

    Returns
    -------
    dict
        Argument name -> series (or list of series, or None).
    """
    signature = inspect.signature(method)
    try:
        bound = signature.bind(*args, **kwargs).arguments
    except TypeError:
        return {}
    return {name: bound.get(name) for name in SERIES_ARGUMENTS if name in signature.parameters}


def check_fit_inputs(model, named: dict) -> None:
    """What ``model.fit`` (an S4Model) is given, before Darts reads it: every series of ``named`` (argument
    name -> series, list of series or None) finite, the training and val series one window long, and an
    explicit Cauchy backend able to run where the trainer trains.

    Parameters
    ----------
    model
        The S4Model.
    named
        Argument name -> series, list of series or None.
    """
    for name, value in named.items():
        check_finite(name, value)
    check_long_enough(named, model.input_chunk_length + model.output_chunk_shift + model.output_chunk_length)
    if model.encoder_kwargs["mode"] == "nplr" and model.encoder_kwargs["backend"] != "auto":  # a backend asked for
        check_backend_runs(model.encoder_kwargs["backend"], model.trainer_params)
