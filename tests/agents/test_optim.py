"""agents/optim.py: optimizers, learning-rate schedules, the paper's momentum ramp."""

from __future__ import annotations

import re

import pytest
import torch

from agents import optimizers
from arena.core.errors import ConfigError
from arena.core.registry import build


def params():
    return [torch.nn.Parameter(torch.ones(3))]


def step_n(opt, n):
    for _ in range(n):
        for group in opt.optimizer.param_groups:
            for p in group["params"]:
                p.grad = torch.ones_like(p)
        opt.step()


def test_momentum_ramp_rises_linearly_then_saturates():
    opt = build({"type": "sgd", "lr": 0.1, "momentum": 0.5, "momentum_ramp": {"end": 0.7, "steps": 10}}, optimizers, params=params())
    assert opt.optimizer.param_groups[0]["momentum"] == pytest.approx(0.5)
    step_n(opt, 5)
    assert opt.optimizer.param_groups[0]["momentum"] == pytest.approx(0.6)
    step_n(opt, 10)
    assert opt.optimizer.param_groups[0]["momentum"] == pytest.approx(0.7)


def test_exponential_schedule_with_floor():
    opt = build({"type": "sgd", "lr": 0.1, "schedule": {"type": "exponential", "gamma": 0.5, "min_factor": 0.1}},
                optimizers, params=params())
    step_n(opt, 2)
    assert opt.optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
    step_n(opt, 10)
    assert opt.optimizer.param_groups[0]["lr"] == pytest.approx(0.01)


@pytest.mark.parametrize(
    "schedule, step, factor",
    [
        ({"type": "constant"}, 7, 1.0),
        ({"type": "linear", "steps": 10, "end_factor": 0.0}, 5, 0.5),
        ({"type": "step", "every": 3, "gamma": 0.1}, 7, 0.01),
        ({"type": "cosine", "steps": 10}, 5, 0.5),
    ],
)
def test_schedules(schedule, step, factor):
    opt = build({"type": "adam", "lr": 1.0, "schedule": schedule}, optimizers, params=params())
    step_n(opt, step)
    assert opt.optimizer.param_groups[0]["lr"] == pytest.approx(factor)


def test_state_round_trip_restores_schedule_position():
    spec = {"type": "sgd", "lr": 0.1, "momentum": 0.5, "momentum_ramp": {"end": 0.7, "steps": 10},
            "schedule": {"type": "exponential", "gamma": 0.9}}
    a = build(spec, optimizers, params=params())
    step_n(a, 4)
    b = build(spec, optimizers, params=params())
    b.load_state_dict(a.state_dict())
    assert b.steps == 4
    assert b.optimizer.param_groups[0]["lr"] == pytest.approx(a.optimizer.param_groups[0]["lr"])
    assert b.optimizer.param_groups[0]["momentum"] == pytest.approx(a.optimizer.param_groups[0]["momentum"])


def test_set_base_lr_applies_at_once():
    opt = build({"type": "adam", "lr": 1e-3}, optimizers, params=params())
    opt.set_base_lr(5e-4)
    assert opt.optimizer.param_groups[0]["lr"] == pytest.approx(5e-4)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"type": "adam", "lr": "fast"}, "lr: expected a positive number, got 'fast'"),
        ({"type": "adam", "lr": -1.0}, "lr: expected a positive number, got -1.0"),
        ({"type": "adam", "betas": [0.5]}, "betas: expected a list of 2 values"),
        ({"type": "adam", "betas": [0.5, 1.5]}, "betas[1]: expected a number in [0, 1), got 1.5"),
        ({"type": "sgd", "momentum_ramp": {"end": 0.7}}, "momentum_ramp.steps: expected a positive integer, got None"),
        ({"type": "adma"}, "type: unknown optimizer 'adma'; did you mean 'adam'?"),
        ({"type": "adam", "schedule": {"type": "exp"}}, "schedule.type: unknown learning-rate schedule 'exp'"),
    ],
)
def test_bad_optimizer_specs(spec, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        build(spec, optimizers, params=params())


def test_yaml_style_exponent_strings_are_read_as_numbers():
    opt = build({"type": "adam", "lr": "1e-4"}, optimizers, params=params())
    assert opt.base_lr == pytest.approx(1e-4)
