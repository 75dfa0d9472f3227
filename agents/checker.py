"""Conformance checks for agents, in the manner of gymnasium's env checker.

Contract breaks are hard assertions; smells (NaN outputs) are warnings.
"""

from __future__ import annotations

import copy
import warnings

import gymnasium as gym
import numpy as np
import torch

from agents.agent import Agent, Discriminator, Generator
from agents.sampling import evaluating

__all__ = ["check_agent"]


def _inputs(agent: Agent, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator(device=agent.device).manual_seed(seed)
    if isinstance(agent, Generator):
        return agent.latent.sample(n, g, agent.device)
    space = agent.observation_space
    x = torch.rand(n, *space.shape, generator=g, device=agent.device)
    if space.is_bounded("both"):
        low = torch.as_tensor(space.low, device=agent.device)
        high = torch.as_tensor(space.high, device=agent.device)
        return low + x * (high - low)
    return x * 2 - 1


def check_agent(agent: Agent, n: int = 8, seed: int = 0) -> None:
    """Check that ``agent`` keeps its contract.

    Checks the role and the spaces, the output shape and dtype for a batch of ``n`` inputs,
    that outputs lie in the declared action space, that the optimizer holds every trainable
    parameter, that ``sample`` is reproducible under a given generator, and that
    ``state_dict``/``load_state_dict`` round-trip.

    Raises:
        AssertionError: a broken contract.
    """
    assert isinstance(agent, (Generator, Discriminator)), f"{agent!r} is neither a Generator nor a Discriminator"
    assert agent.role in ("generator", "discriminator")
    for which in ("observation_space", "action_space"):
        space = getattr(agent, which)
        assert isinstance(space, gym.spaces.Box), f"{agent.name}: {which} must be a gymnasium Box, got {space!r}"
        assert space.dtype == np.float32, f"{agent.name}: {which} must be float32, got {space.dtype}"
    if isinstance(agent, Generator):
        assert agent.observation_space.shape == (agent.latent.dim,), (
            f"{agent.name}: observation space {agent.observation_space.shape} is not the latent shape ({agent.latent.dim},)"
        )
    else:
        assert agent.action_space.shape == (1,), f"{agent.name}: a discriminator emits one logit"

    owned = {id(p) for group in agent.optimizer_groups for p in group["params"]}
    for pname, p in agent.net.named_parameters():
        if p.requires_grad:
            assert id(p) in owned, f"{agent.name}: parameter {pname} is not in the optimizer"

    with evaluating(agent):
        x = _inputs(agent, n, seed)
        assert agent.observation_space.shape == tuple(x.shape[1:])
        with torch.no_grad():
            y = agent(x)
        expected = (n, *agent.action_space.shape)
        assert tuple(y.shape) == expected, f"{agent.name}: output shape {tuple(y.shape)}, expected {expected}"
        assert y.dtype == torch.float32, f"{agent.name}: output dtype {y.dtype}, expected float32"
        if not torch.isfinite(y).all():
            warnings.warn(f"{agent.name}: non-finite outputs", RuntimeWarning, stacklevel=2)
        else:
            out = y.detach().cpu().numpy()
            low, high = agent.action_space.low, agent.action_space.high
            assert np.all(out >= low - 1e-6) and np.all(out <= high + 1e-6), (
                f"{agent.name}: outputs in [{out.min():.3g}, {out.max():.3g}] leave the action space "
                f"[{low.min():.3g}, {high.max():.3g}]"
            )
        if isinstance(agent, Generator):
            with torch.no_grad():
                a = agent.sample(n, torch.Generator(device=agent.device).manual_seed(seed))
                b = agent.sample(n, torch.Generator(device=agent.device).manual_seed(seed))
            assert torch.equal(a, b), f"{agent.name}: sample() is not reproducible under one generator"

        state = copy.deepcopy(agent.state_dict())
        with torch.no_grad():
            for p in agent.net.parameters():
                p.add_(1.0)
        agent.load_state_dict(state)
        with torch.no_grad():
            y2 = agent(x)
        assert torch.equal(y, y2) or (torch.isnan(y).any() and torch.isnan(y2).any()), (
            f"{agent.name}: load_state_dict(state_dict()) does not restore the outputs"
        )

