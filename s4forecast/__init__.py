"""s4forecast: S4 (Gu, Goel, Ré, ICLR 2022) for forecasting and sequence classification."""
from s4forecast.nn import S4Block, S4Encoder, S4Layer
from s4forecast.optim import param_groups
from s4forecast.ssm.cauchy import cauchy

__version__ = "0.1.0"
__all__ = ["cauchy", "S4Layer", "S4Block", "S4Encoder", "param_groups"]
