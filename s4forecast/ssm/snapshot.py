"""Exact copies of a module's parameter and buffer values, to tell whether something computed from them
(a kept SSM kernel, the recurrent step operators) is still current.

Tensor version counters cannot tell: torch's fused Adam / AdamW update parameters in place without
bumping them, so a check on ``_version`` passes after an optimiser step. Comparing values costs O(size
of the parameters), far less than recomputing a kernel (O(H N L)).
"""

from __future__ import annotations

import torch
from torch import nn


def _tensors(module: nn.Module) -> list[torch.Tensor]:
    return [t.detach() for t in (*module.parameters(), *module.buffers())]


class ValueSnapshot:
    """The values of ``module``'s parameters and buffers at construction."""

    def __init__(self, module: nn.Module):
        self._values = [t.clone() for t in _tensors(module)]

    def matches(self, module: nn.Module) -> bool:
        """Whether ``module``'s parameters and buffers still hold exactly the snapshot's values (same
        dtypes and devices: ``.to()`` also invalidates)."""
        now = _tensors(module)
        return len(now) == len(self._values) and all(
            a.dtype == b.dtype and a.device == b.device and a.shape == b.shape and torch.equal(a, b)
            for a, b in zip(self._values, now)
        )
