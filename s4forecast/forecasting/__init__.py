"""Forecasting adapters: S4 as a Darts model (imported on first use, so the main job can check its
config before Darts loads)."""

__all__ = ["S4Model", "STREAMABLE"]


def __getattr__(name):
    if name == "S4Model":
        from s4forecast.forecasting.s4_model import S4Model

        return S4Model
    if name == "STREAMABLE":
        from s4forecast.forecasting.streaming import STREAMABLE

        return STREAMABLE
    raise AttributeError(f"module 's4forecast.forecasting' has no attribute {name!r}")
