"""arena/engine/stacking.py: the stacked agents' own Adam, SGD and RMSprop, against hand-computed
steps and against torch's optimizers given the same gradients, and the write-back into each agent."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from arena.config import parse_config
from arena.engine.arena import build_arena
from arena.engine.stacking import StackedAgents, optimizer_key, update
from tests.conftest import tiny_pool

NET = {"type": "mlp", "hidden": [3]}


def discriminators(optim: dict, k: int = 2):
    """``k`` discriminators with ``optim``, each with its own learning rate (0.1, 0.2, ...)."""
    raw = tiny_pool(1, k, NET)
    raw["agents"][1]["optim"] = optim
    ds = build_arena(parse_config(raw)).discriminators
    for i, d in enumerate(ds):
        d.optimizer.set_base_lr(0.1 * (i + 1))
    return ds


def stacked_steps(agents, grads: list[torch.Tensor]) -> None:
    """Apply one stacked optimizer step per gradient ``(K, P)`` and write the agents back."""
    s = StackedAgents(agents)
    t = s.tensors()
    for g in grads:
        cols = {key: torch.tensor(v, dtype=torch.float32).unsqueeze(1) for key, v in s.host_step().items()}
        update(s.rule, t, g, cols)
    s.write_back()


def torch_steps(agents, grads: list[torch.Tensor]) -> None:
    """The same steps by each agent's own torch optimizer."""
    for k, agent in enumerate(agents):
        params = list(agent.net.parameters())
        for g in grads:
            offset = 0
            for p in params:
                p.grad = g[k, offset : offset + p.numel()].view_as(p).clone()
                offset += p.numel()
            agent.step()


@pytest.mark.parametrize("optim", [
    {"type": "adam", "betas": [0.5, 0.999]},
    {"type": "adam", "betas": [0.9, 0.99], "eps": 1e-3, "weight_decay": 0.01},
    {"type": "sgd"},
    {"type": "sgd", "momentum": 0.9},
    {"type": "sgd", "momentum": 0.5, "nesterov": True, "weight_decay": 0.1},
    {"type": "sgd", "momentum": 0.5, "momentum_ramp": {"end": 0.7, "steps": 2}},
    {"type": "rmsprop", "alpha": 0.9},
    {"type": "rmsprop", "alpha": 0.9, "momentum": 0.5},
], ids=["adam", "adam-eps-decay", "sgd", "sgd-momentum", "sgd-nesterov-decay", "sgd-ramp", "rmsprop", "rmsprop-momentum"])
def test_three_stacked_steps_equal_torchs_optimizer_on_the_same_gradients(optim):
    agents = discriminators(optim)
    reference = [copy.deepcopy(a) for a in agents]
    assert optimizer_key(agents[0]) is not None
    n = sum(p.numel() for p in agents[0].net.parameters())
    g = torch.Generator().manual_seed(0)
    grads = [torch.randn(2, n, generator=g) for _ in range(3)]
    stacked_steps(agents, grads)
    torch_steps(reference, grads)
    for a, r in zip(agents, reference):
        assert a.steps == r.steps == 3
        for (name, p), q in zip(a.net.named_parameters(), r.net.parameters()):
            assert torch.allclose(p, q, atol=1e-6, rtol=1e-5), (a.name, name)
            mine, theirs = a.optimizer_state(p), r.optimizer_state(q)
            assert mine.keys() == theirs.keys(), (a.name, name)
            for key in mine:
                assert torch.allclose(torch.as_tensor(mine[key]).float(), torch.as_tensor(theirs[key]).float(),
                                      atol=1e-6, rtol=1e-5), (a.name, name, key)


def test_one_adam_step_by_hand():
    """Adam's first step moves every weight by lr * g / (|g| + eps): by the learning rate, against
    the gradient's sign (m_hat = g, v_hat = g^2)."""
    agents = discriminators({"type": "adam", "betas": [0.9, 0.999], "eps": 1e-8})
    before = [torch.cat([p.detach().flatten() for p in a.net.parameters()]) for a in agents]
    n = before[0].numel()
    grad = torch.linspace(-1, 1, 2 * n).reshape(2, n)
    grad[grad == 0] = 0.5
    stacked_steps(agents, [grad])
    for k, (a, b) in enumerate(zip(agents, before)):
        after = torch.cat([p.detach().flatten() for p in a.net.parameters()])
        lr = 0.1 * (k + 1)
        expected = b - lr * grad[k] / (grad[k].abs() + 1e-8)
        assert torch.allclose(after, expected, atol=1e-6), k
        state = a.optimizer_state(next(a.net.parameters()))
        assert float(state["step"]) == 1.0


def test_plain_sgd_keeps_no_state_and_moves_by_lr_times_the_gradient():
    agents = discriminators({"type": "sgd"})
    before = [torch.cat([p.detach().flatten() for p in a.net.parameters()]) for a in agents]
    grad = torch.ones(2, before[0].numel())
    stacked_steps(agents, [grad, grad])
    for k, (a, b) in enumerate(zip(agents, before)):
        after = torch.cat([p.detach().flatten() for p in a.net.parameters()])
        assert torch.allclose(after, b - 2 * 0.1 * (k + 1), atol=1e-6)
        assert all(a.optimizer_state(p) == {} for p in a.net.parameters()), "torch keeps no state for plain SGD"


def test_rmsprop_first_step_by_hand():
    """RMSprop's first step: square_avg = (1 - alpha) g^2, so the step is lr * g / (sqrt(1 - alpha) |g| + eps)."""
    agents = discriminators({"type": "rmsprop", "alpha": 0.75, "eps": 1e-8})
    before = [torch.cat([p.detach().flatten() for p in a.net.parameters()]) for a in agents]
    grad = torch.full((2, before[0].numel()), 2.0)
    stacked_steps(agents, [grad])
    for k, (a, b) in enumerate(zip(agents, before)):
        after = torch.cat([p.detach().flatten() for p in a.net.parameters()])
        assert torch.allclose(after, b - 0.1 * (k + 1) * 2.0 / (math.sqrt(0.25) * 2.0 + 1e-8), atol=1e-6)


def test_an_optimizer_the_stack_does_not_run_has_no_key():
    (d,) = discriminators({"type": "adam"}, k=1)
    d.set_hyperparameter("amsgrad", True)
    assert optimizer_key(d) is None
