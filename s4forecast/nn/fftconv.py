"""Long convolution by FFT with zero padding (no circular wrap-around), S4 Sec. 3.3.

u (B, H, L) real, k (H, L) causal or (2, H, L) bidirectional -> y (B, H, L).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def fft_conv(u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``y[t] = Σ_{j<=t} k[j] u[t-j]`` (causal); with k (2, H, L) the second kernel also reads the
    future, ``+ Σ_{j>=0} k[1, j] u[t+1+j]``, as in the bidirectional S4."""
    L = u.shape[-1]
    if k.dim() == 3:
        k = F.pad(k[0], (0, L)) + F.pad(k[1].flip(-1), (L, 0))
    n = 2 * L
    return torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(k, n=n), n=n)[..., :L]
