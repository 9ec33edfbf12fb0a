"""S4Model to ONNX through Darts' ``to_onnx``, with every S4 kernel a constant of the graph.

At inference an S4 layer's kernel does not depend on the input, and computing it needs complex numbers
(the Cauchy kernel, the inverse FFT of Algorithm 1) that ONNX does not have: the exported graph takes
each layer's kernel, computed once for the network's length and rate, as a constant, and convolves with
it (a Toeplitz product or real FFTs, ``S4Layer.convolution``). Darts' ``run_onnx_prediction`` then
forecasts with onnxruntime alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from s4forecast.forecasting.closed_loop import ClosedLoopDecoder
from s4forecast.nn import S4Layer


@contextmanager
def frozen_kernels(network: nn.Module) -> Iterator[None]:
    """Every S4 layer of ``network`` (a layout's network: ``n_tokens`` encoder positions, ``rate``) with its
    kernel frozen for the duration (:meth:`S4Layer.freeze_kernel`), and a closed-loop decoder's rollout
    (``n_out`` tokens from the ``n_tokens`` of the context: :meth:`ClosedLoopDecoder.freeze_kernel`).

    Parameters
    ----------
    network
        A layout's network.

    Yields
    ------
    None
    """
    layers = [m for m in network.modules() if isinstance(m, (S4Layer, ClosedLoopDecoder))]
    rate = float(network.rate)
    for layer in layers:
        if isinstance(layer, ClosedLoopDecoder):
            layer.freeze_kernel(network.n_tokens, network.n_out, rate)
        else:
            layer.freeze_kernel(network.n_tokens, rate)
    try:
        yield
    finally:
        for layer in layers:
            layer.unfreeze_kernel()
