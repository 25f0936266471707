"""Learning-rate schedules, AdamW groups and the EMA."""

from __future__ import annotations

import math

import pytest
import torch

from unipic.train.optim import EMA, build_optimizer, lr_lambda
from unipic.train.stages import STAGES


def test_constant_with_warmup():
    f = lr_lambda("constant", total_steps=100, warmup_steps=5)
    assert [round(f(s), 4) for s in range(7)] == [round((s + 1) / 6, 4) for s in range(5)] + [1.0, 1.0]
    assert f(99) == 1.0


def test_cosine_with_warmup_ends_at_min():
    f = lr_lambda("cosine", total_steps=101, warmup_steps=1, min_lr_ratio=0.1)
    assert f(0) == 0.5 and f(1) == pytest.approx(1.0)
    assert f(51) == pytest.approx(0.1 + 0.9 * 0.5)
    assert 0.1 < f(100) < 0.101 and f(101) == pytest.approx(0.1)  # the last step is just above the floor
    values = [f(s) for s in range(1, 101)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    with pytest.raises(ValueError):
        lr_lambda("linear", 10, 1)


def test_optimizer_follows_the_stage(tiny_model):
    import copy

    model = copy.deepcopy(tiny_model)
    stage = STAGES["ct"]
    model.set_trainable(stage.trainable)
    opt, sched = build_optimizer(model, stage, total_steps=100)
    assert opt.defaults["betas"] == (0.9, 0.95) and opt.defaults["eps"] == 1e-15
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.02 and no_decay["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    assert not any("diffloss" in names[id(p)] for p in decay["params"])
    trained = {id(p) for g in opt.param_groups for p in g["params"]}
    assert trained == {id(p) for p in model.parameters() if p.requires_grad}
    assert not any(id(p) in trained for p in model.siglip.parameters())
    assert sched.get_last_lr()[0] == pytest.approx(1e-5 * 1 / 2)  # warmup: 1 step of 100 -> half


def test_ema_average_and_warmup():
    net = torch.nn.Linear(2, 1, bias=False)
    frozen = torch.nn.Linear(2, 2)
    frozen.requires_grad_(False)
    model = torch.nn.ModuleDict({"a": net, "b": frozen})
    with torch.no_grad():
        net.weight.fill_(0.0)
    ema = EMA(model, decay=0.5, warmup=False)
    assert set(ema.shadow) == {"a.weight"}
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(model)
    assert torch.allclose(ema.shadow["a.weight"], torch.full((1, 2), 0.5))
    warm = EMA(model, decay=0.9999)
    assert warm.current_decay() == pytest.approx(1 / 10)
    for _ in range(90):
        warm.update(model)
    assert warm.current_decay() == pytest.approx(91 / 100)
    state = warm.state_dict()
    fresh = EMA(model, decay=0.9999)
    fresh.load_state_dict(state)
    assert fresh.updates == 90 and torch.equal(fresh.shadow["a.weight"], warm.shadow["a.weight"])
    with torch.no_grad():
        net.weight.fill_(7.0)
    ema.copy_to(model)
    assert math.isclose(float(net.weight.detach()[0, 0]), 0.5)
