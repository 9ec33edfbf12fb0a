"""s4forecast: S4 (Gu, Goel, Ré, ICLR 2022) for forecasting and sequence classification."""
from s4forecast.nn import S4Block, S4Encoder, S4Layer
from s4forecast.optim import param_groups
from s4forecast.ssm.cauchy import cauchy

__version__ = "0.1.0"
__all__ = ["cauchy", "S4Layer", "S4Block", "S4Encoder", "S4Model", "param_groups"]


def __getattr__(name):
    # Darts is imported only when the forecasting model is asked for: the core stays light.
    if name == "S4Model":
        from s4forecast.forecasting import S4Model

        return S4Model
    raise AttributeError(f"module 's4forecast' has no attribute {name!r}")
