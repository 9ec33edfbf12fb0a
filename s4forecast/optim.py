"""Optimiser parameter groups: the SSM parameters (Λ, P, B, C, Δ of every
:class:`~s4forecast.ssm.systems.SSM`) get their own learning rate and no weight decay (S4 App. D.1)."""

from __future__ import annotations

from torch import nn

from s4forecast.ssm.systems import SSM


def param_groups(model: nn.Module, lr: float, weight_decay: float = 0.0, ssm_lr: float | None = None) -> list[dict]:
    """Two groups for ``torch.optim``: every other parameter with (lr, weight_decay); SSM parameters
    with ``ssm_lr`` (default ``lr``) and weight decay 0. Empty groups are left out."""
    ssm_ids = {id(p) for m in model.modules() if isinstance(m, SSM) for p in m.parameters()}
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if id(p) not in ssm_ids], "lr": lr, "weight_decay": weight_decay},
        {"params": [p for p in params if id(p) in ssm_ids], "lr": lr if ssm_lr is None else ssm_lr, "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]
