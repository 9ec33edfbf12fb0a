"""Optimiser parameter groups: the SSM parameters (Λ, P, B, C, Δ of every
:class:`~s4forecast.ssm.systems.SSM`) get their own learning rate and no weight decay (S4 App. D.1)."""

from __future__ import annotations

import inspect

import torch
from torch import nn

from s4forecast.ssm.systems import SSM


def param_groups(model: nn.Module, lr: float, weight_decay: float = 0.0, ssm_lr: float | None = None) -> list[dict]:
    """The parameter groups S4 trains with (App. D.2): SSM parameters at their own rate, no weight decay.

    Parameters
    ----------
    model
        Any module; its SSMs (:class:`~s4forecast.ssm.systems.SSM`) are found among its submodules.
    lr, weight_decay
        Of every parameter outside the SSMs.
    ssm_lr
        Of the SSM parameters (Λ, P, B, C, Δ); None: ``lr``.

    Returns
    -------
    list of dict
        Groups for ``torch.optim`` (``params``, ``lr``, ``weight_decay``); empty groups are left out.
    """
    ssm_ids = {id(p) for m in model.modules() if isinstance(m, SSM) for p in m.parameters()}
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if id(p) not in ssm_ids], "lr": lr, "weight_decay": weight_decay},
        {"params": [p for p in params if id(p) in ssm_ids], "lr": lr if ssm_lr is None else ssm_lr, "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


FUSED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def with_fused(optimizer_cls: type, groups: list[dict], kwargs: dict) -> dict:
    """``kwargs`` plus ``fused=True`` where ``optimizer_cls`` has a fused implementation (torch's Adam,
    AdamW, SGD, Adagrad) and every parameter is a real floating tensor on the CPU or a GPU, unless the
    caller chose ``fused`` or ``foreach``. One kernel for all parameters instead of a loop over them:
    on one CPU thread an AdamW step of the main job's 26 tensors takes ~0.7 ms instead of ~7.8 ms
    (epoch times side by side with the per-tensor loop: benchmarks/results/training_cost_fused.md).

    Parameters
    ----------
    optimizer_cls
        The optimiser class.
    groups
        Its parameter groups.
    kwargs
        Its keyword arguments.

    Returns
    -------
    dict
    """
    if "fused" in kwargs or "foreach" in kwargs or "fused" not in inspect.signature(optimizer_cls).parameters:
        return kwargs
    params = [p for g in groups for p in g["params"]]
    if not all(p.dtype in FUSED_DTYPES and p.device.type in ("cpu", "cuda") for p in params):
        return kwargs
    return {**kwargs, "fused": True}


def check_optimiser_numbers(lr=None, weight_decay=None, ssm_lr=None, where: str = "") -> None:
    """``lr`` and ``ssm_lr`` positive and finite, ``weight_decay`` non-negative and finite (None: unset); a
    negative learning rate or weight decay would train by gradient ascent without a word.

    Parameters
    ----------
    lr, weight_decay, ssm_lr
        The numbers to check (None: unset).
    where
        A prefix for the error (the argument they came in).
    """
    from s4forecast.nn.options import is_positive_finite

    for name, value, zero_ok in (("lr", lr, False), ("weight_decay", weight_decay, True), ("ssm_lr", ssm_lr, False)):
        if value is not None and not (is_positive_finite(value) or (zero_ok and value == 0 and not isinstance(value, bool))):
            kind = "a non-negative" if zero_ok else "a positive"
            raise ValueError(f"`{where}{name}` must be {kind} finite number; got {value!r}")
