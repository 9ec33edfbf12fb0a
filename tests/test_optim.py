"""Optimiser construction: the fused implementation where torch has one."""

import numpy as np
import pytest
import torch
from darts.utils import timeseries_generation as tg

from s4forecast import S4Model
from s4forecast.nn import S4Encoder
from s4forecast.optim import with_fused
from s4forecast.trainers import quiet_trainer

TRAINER = quiet_trainer(checkpoints=True, accelerator="cpu")


def test_fused_adamw_steps_like_the_per_tensor_loop():
    """The fused kernel against torch's single-tensor implementation, same groups and gradients."""
    torch.manual_seed(0)
    encoder = S4Encoder(3, d_model=8, n_layers=2, d_state=8, l_max=16)
    copies = [[torch.nn.Parameter(p.detach().clone()) for p in encoder.parameters()] for _ in range(2)]
    half = len(copies[0]) // 2  # two groups with their own lr and weight decay, as param_groups makes
    optimizers = []
    for params, kwargs in zip(copies, ({"foreach": False}, None)):
        groups = [
            {"params": params[:half], "lr": 1e-2, "weight_decay": 0.01},
            {"params": params[half:], "lr": 1e-3, "weight_decay": 0.0},
        ]
        optimizers.append(torch.optim.AdamW(groups, **(kwargs or with_fused(torch.optim.AdamW, groups, {}))))
    assert optimizers[1].defaults["fused"] is True and not optimizers[0].defaults.get("fused")
    for _ in range(20):
        grads = [torch.randn_like(p) for p in copies[0]]
        for params, optimizer in zip(copies, optimizers):
            for p, g in zip(params, grads):
                p.grad = g.clone()
            optimizer.step()
    for a, b in zip(*copies):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_fused_only_where_torch_has_it_and_the_caller_did_not_choose():
    groups = [{"params": [torch.nn.Parameter(torch.ones(3))]}]
    assert with_fused(torch.optim.AdamW, groups, {"lr": 1e-3}) == {"lr": 1e-3, "fused": True}
    assert with_fused(torch.optim.AdamW, groups, {"foreach": False}) == {"foreach": False}
    assert "fused" not in with_fused(torch.optim.LBFGS, groups, {})
    complex_groups = [{"params": [torch.nn.Parameter(torch.ones(3, dtype=torch.complex64))]}]
    assert "fused" not in with_fused(torch.optim.AdamW, complex_groups, {})


@pytest.mark.parametrize("optimizer_kwargs,fused", [({"lr": 1e-3}, True), ({"lr": 1e-3, "foreach": True}, False)])
def test_s4model_optimizer_is_fused_unless_told(optimizer_kwargs, fused):
    m = S4Model(12, 4, d_model=8, n_layers=1, d_state=8, n_epochs=1, optimizer_kwargs=optimizer_kwargs, pl_trainer_kwargs=TRAINER)
    m.fit(tg.sine_timeseries(length=60).astype(np.float32))
    optimizer = m.model.configure_optimizers()
    assert bool(optimizer.defaults.get("fused")) is fused
