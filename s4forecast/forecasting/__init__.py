"""Forecasting adapters: S4 as a Darts model."""
from s4forecast.forecasting.s4_model import S4Model

__all__ = ["S4Model"]
