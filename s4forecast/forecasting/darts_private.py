"""Every use of Darts' non-public names by S4Model, in one place.

Darts' torch models have no public way to do these few things: build a subclass from its captured
arguments, rewrite those arguments on a resampled copy, name a default save path, and give covariate
encoders new chunk lengths while keeping their fitted transformers. tests/test_darts_private.py checks
that each name still exists with the meaning used here, so a Darts upgrade that moves one fails there
loudly, not silently in a user's model.
"""

from __future__ import annotations

ENCODER_STATE = ("_past_transformer", "_future_transformer", "_past_components", "_future_components", "_fit_called")


def torch_model_params(model) -> dict:
    """The keyword arguments of ``TorchForecastingModel.__init__`` among the model's captured arguments."""
    return model._extract_torch_model_params(**model.model_params)


def pl_module_params(model) -> dict:
    """The keyword arguments of ``PLForecastingModule.__init__`` among the model's captured arguments."""
    return model._extract_pl_module_params(**model.model_params)


def set_model_params(model, params: dict) -> None:
    """Replace the captured arguments that ``save``/``load`` and ``untrained_model()`` rebuild from."""
    model._model_params = params


def use_static_covariates(model, flag: bool) -> None:
    """Whether the model reads static covariates (Darts' own models set this in their constructor)."""
    model._considers_static_covariates = flag


def set_output_chunk_length(module, n: int) -> None:
    """A PLForecastingModule's horizon (a property without a setter), for a resampled network."""
    module._output_chunk_length = n


def default_save_path(model) -> str:
    """The path ``save()`` uses when given none."""
    return model._default_save_path() + ".pt"


def resized_encoders(model, fitted):
    """Darts' covariate encoders for ``model``'s chunk lengths, with ``fitted``'s fitted transformers."""
    encoders = model.initialize_encoders()
    for name in ENCODER_STATE:
        setattr(encoders, name, getattr(fitted, name))
    return encoders
