"""Conformance checks for games, in the manner of gymnasium's env checker."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import torch

from agents import AgentSpec, Discriminator, Generator, build_agent
from games.base import Game

__all__ = ["check_game", "tiny_pair"]


def tiny_pair(seed: int = 0, dim: int = 2) -> tuple[Generator, Discriminator]:
    """A small random generator and discriminator on ``dim``-dimensional data."""
    space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)
    g = build_agent(
        AgentSpec("g", "generator", {"type": "mlp", "hidden": [16], "norm": "batch"},
                  {"type": "adam", "lr": 1e-3}, {"dist": "normal", "dim": 3}),
        "g", space, seed=seed,
    )
    d = build_agent(
        AgentSpec("d", "discriminator", {"type": "mlp", "hidden": [16], "dropout": 0.1}, {"type": "adam", "lr": 1e-3}),
        "d", space, seed=seed + 7,
    )
    return g, d  # type: ignore[return-value]


def _snapshot(agent) -> list[torch.Tensor]:
    return [p.detach().clone() for p in agent.net.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def _play(game: Game, seed: int, rounds: int) -> tuple[list[dict[str, float]], Generator, Discriminator]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g, d = tiny_pair(seed)
        data = torch.Generator().manual_seed(seed)
        stats = [
            {k: float(v) for k, v in game.round(g, d, lambda: torch.randn(32, 2, generator=data) * 0.1 + 1).items()}
            for _ in range(rounds)
        ]
    return stats, g, d


def check_game(game: Game, rounds: int = 3, seed: int = 0) -> None:
    """Check that ``game`` keeps its contract on a small random pair.

    Plays ``rounds`` rounds and checks that the losses are finite scalars; that a generator
    update leaves the discriminator's parameters unchanged and gives them no gradient; that a
    discriminator update leaves the generator's parameters unchanged; that the judgement is
    in [0, 1]; and that two plays under one seed give the same numbers.

    Raises:
        AssertionError: a broken contract.
    """
    assert isinstance(game, Game), f"{game!r} is not a Game"
    assert isinstance(game.d_steps, int) and game.d_steps >= 1, f"d_steps must be a positive integer, got {game.d_steps!r}"
    assert not any(True for _ in getattr(game, "parameters", lambda: [])()), "a game owns no parameters"

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g, d = tiny_pair(seed)
        real = torch.randn(32, 2, generator=torch.Generator().manual_seed(seed))

        g_before, d_before = _snapshot(g), _snapshot(d)
        d.zero_grad()
        stats = game.generator_update(g, d, 32)
        assert _same(_snapshot(d), d_before), f"{game.id or game}: the discriminator moved during a generator update"
        assert all(p.grad is None for p in d.net.parameters()), (
            f"{game.id or game}: gradients reached the discriminator during a generator update"
        )
        assert not _same(_snapshot(g), g_before), f"{game.id or game}: the generator did not move in its own update"
        assert stats["g_loss"].dim() == 0 and torch.isfinite(stats["g_loss"]), f"g_loss is {stats['g_loss']}"

        g_before, d_before = _snapshot(g), _snapshot(d)
        g.zero_grad()
        stats = game.discriminator_update(g, d, real)
        assert _same(_snapshot(g), g_before), f"{game.id or game}: the generator moved during a discriminator update"
        assert all(p.grad is None for p in g.net.parameters()), (
            f"{game.id or game}: gradients reached the generator during a discriminator update"
        )
        assert not _same(_snapshot(d), d_before), f"{game.id or game}: the discriminator did not move in its own update"
        for key in ("d_loss", "d_real", "d_fake"):
            assert stats[key].dim() == 0 and torch.isfinite(stats[key]), f"{key} is {stats[key]}"

        with torch.no_grad():
            score = float(game.judge(d(real), d(g.sample(32))))
        assert 0.0 <= score <= 1.0, f"judge returned {score}, outside [0, 1]"

    first, g1, d1 = _play(game, seed, rounds)
    second, g2, d2 = _play(game, seed, rounds)
    for s in first:
        for k, v in s.items():
            if not np.isfinite(v):
                warnings.warn(f"{game.id or game}: {k} is not finite", RuntimeWarning, stacklevel=2)
    assert first == second, f"{game.id or game}: two plays under seed {seed} differ: {first} != {second}"
    assert _same(_snapshot(g1), _snapshot(g2)) and _same(_snapshot(d1), _snapshot(d2)), "weights differ under one seed"
