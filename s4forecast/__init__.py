"""s4forecast: S4 (Gu, Goel, Ré, ICLR 2022) for forecasting and sequence classification."""

import importlib

__version__ = "0.2.0"
__all__ = ["cauchy", "S4Layer", "S4Block", "S4Encoder", "S4Model", "param_groups"]

# Names are imported on first use: `s4forecast --version` or a config error needs no torch, and the
# core never imports Darts unless the forecasting model is asked for.
_WHERE = {
    "cauchy": "s4forecast.ssm.cauchy",
    "S4Layer": "s4forecast.nn",
    "S4Block": "s4forecast.nn",
    "S4Encoder": "s4forecast.nn",
    "param_groups": "s4forecast.optim",
    "S4Model": "s4forecast.forecasting.s4_model",
}


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 's4forecast' has no attribute {name!r}")
