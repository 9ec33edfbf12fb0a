"""Neural network layers built on the SSMs: FFT convolution, the S4 layer, the residual encoder."""

from s4forecast.nn.encoder import S4Block, S4Encoder
from s4forecast.nn.options import S4Options
from s4forecast.nn.s4layer import S4Layer

__all__ = ["S4Layer", "S4Block", "S4Encoder", "S4Options"]
