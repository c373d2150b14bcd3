"""The trainer's optimisers run torch's multi-tensor (foreach) update, also on the CPU, where
torch's default is one tensor at a time: it must give the same weights bit for bit."""

import copy

import pytest
import torch
from torch import nn

from builder.training.config import OPTIMIZERS, OptimizerConfig
from builder.training.objectives import make_optimizer

SETTINGS = {
    "sgd": {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
    "adagrad": {"weight_decay": 1e-3},
    "rmsprop": {"momentum": 0.5, "alpha": 0.9},
    "adam": {"weight_decay": 1e-3},
    "adamw": {"weight_decay": 1e-2},
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_foreach_optimizer_matches_the_single_tensor_update_bit_for_bit(name):
    torch.manual_seed(0)
    start = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
    x, y = torch.randn(32, 8), torch.randn(32, 3)
    ours, ref = copy.deepcopy(start), copy.deepcopy(start)
    opt = make_optimizer(OptimizerConfig(name=name, lr=0.01, **SETTINGS[name]), ours.parameters())
    assert opt.defaults["foreach"] is True
    same_settings = {
        k: v for k, v in opt.defaults.items() if k not in ("foreach", "decoupled_weight_decay")
    }
    ref_opt = type(opt)(ref.parameters(), **same_settings, foreach=False)
    for _ in range(25):
        for model, o in ((ours, opt), (ref, ref_opt)):
            o.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            o.step()
    pairs = list(zip(ours.parameters(), ref.parameters(), start.parameters()))
    assert all(not torch.equal(p, s) for p, _, s in pairs)  # trained
    assert all(torch.equal(p, q) for p, q, _ in pairs)
