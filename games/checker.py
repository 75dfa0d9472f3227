"""Conformance checks for games, in the manner of gymnasium's env checker."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import torch

from agents import AgentSpec, Discriminator, Generator, build_agent
from games.base import Game, Shape, all_frozen, frozen

__all__ = ["check_game", "tiny_pair", "tiny_team"]


def tiny_pair(seed: int = 0, dim: int = 2, output: str = "sample", outputs: int = 1) -> tuple[Generator, Discriminator]:
    """A small random generator and discriminator on ``dim``-dimensional data."""
    return _tiny_generator(seed, dim, output), _tiny_discriminator(seed + 7, dim, outputs)


def _tiny_generator(seed: int, dim: int, output: str = "sample", name: str = "g") -> Generator:
    space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)
    spec = AgentSpec(name, "generator", {"type": "mlp", "hidden": [16], "norm": "batch"},
                     {"type": "adam", "lr": 1e-3}, {"dist": "normal", "dim": 3}, output=output)
    return build_agent(spec, name, space, seed=seed)  # type: ignore[return-value]


def _tiny_discriminator(seed: int, dim: int, outputs: int = 1, name: str = "d") -> Discriminator:
    space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)
    spec = AgentSpec(name, "discriminator", {"type": "mlp", "hidden": [16], "dropout": 0.1}, {"type": "adam", "lr": 1e-3})
    return build_agent(spec, name, space, seed=seed, outputs=outputs)  # type: ignore[return-value]


def tiny_team(game: Game, seed: int = 0, dim: int = 2) -> tuple[list[Generator], list[Discriminator]]:
    """Small random players for one match of ``game``: a pair, or two of the side that plays "all"."""
    n_g = 2 if game.shape.generators == "all" else 1
    n_d = 2 if game.shape.discriminators == "all" else 1
    gens = [_tiny_generator(seed + i, dim, game.generator_kind, f"g{i}") for i in range(n_g)]
    discs = [_tiny_discriminator(seed + 7 + i, dim, game.d_outputs(n_g), f"d{i}") for i in range(n_d)]
    return gens, discs


def _snapshot(agents) -> list[torch.Tensor]:
    return [p.detach().clone() for a in agents for p in a.net.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def _play(game: Game, seed: int, rounds: int) -> tuple[list[dict[str, float]], list, list]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gens, discs = tiny_team(game, seed)
        data = torch.Generator().manual_seed(seed)
        stats = [
            {k: float(v) for k, v in game.play_round(gens, discs, lambda: torch.randn(32, 2, generator=data) * 0.1 + 1).items()}
            for _ in range(rounds)
        ]
    return stats, gens, discs


def _declared_round(game: Game, gens: list[Generator], discs: list[Discriminator], real: torch.Tensor) -> None:
    """One round as the engine plays a game whose shape stacks (:class:`Shape`): for ``pairs`` from
    ``discriminator_objective`` and ``generator_objective`` alone, for ``discriminators`` the discriminators' own
    updates and then :meth:`Game.generator_team_step` on every discriminator's logits."""
    if game.shape.stacks == "pairs":
        g, d = gens[0], discs[0]
        with torch.no_grad():
            fake = g.sample(real.shape[0])
        d.zero_grad()
        d.scaled(game.discriminator_objective(d(real), d(fake))).backward()
        d.step()
        with frozen(d.net):
            g.zero_grad()
            fake = g.sample(real.shape[0])
            g.scaled(game.generator_objective(d(fake), fake)).backward()
            g.step()
    else:
        game.update_discriminators(gens, discs, real)
        with all_frozen(discs):
            gens[0].zero_grad()
            fake = gens[0].sample(real.shape[0])
            game.generator_team_step(gens[0], [d(fake) for d in discs], fake)


def _check_stacking(game: Game, seed: int) -> None:
    """A game whose shape stacks computes, the way the engine's stacked kernels do, what its own
    updates compute: the same weights after a round from the same players and draws. Both ways
    run the same operations on these small players, so they agree to float32 rounding (1e-6)."""
    real = torch.randn(32, 2, generator=torch.Generator().manual_seed(seed))
    after = []
    for declared in (False, True):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            gens, discs = tiny_team(game, seed)
            if declared:
                _declared_round(game, gens, discs, real)
            else:
                game.update_discriminators(gens, discs, real)
                game.update_generators(gens, discs, real.shape[0])
        after.append(_snapshot([*gens, *discs]))
    assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(*after)), (
        f"{game.id or game}: its shape says it stacks {game.shape.stacks}, but its own updates compute something "
        f"else; declare Shape(stacks='none') for a game whose rounds need more than its losses")


def check_game(game: Game, rounds: int = 3, seed: int = 0) -> None:
    """Check that ``game`` keeps its contract on small random players (a pair, or a team for
    multi-player games).

    Plays ``rounds`` rounds and checks that the losses are finite scalars; that a game whose shape
    stacks computes, the way the stacked kernels do, what its own updates compute; that a generator
    update leaves the discriminators' parameters unchanged and gives them no gradient; that a
    discriminator update leaves the generators' parameters unchanged; that the judgement is
    in [0, 1]; and that two plays under one seed give the same numbers.

    Raises:
        AssertionError: a broken contract.
    """
    assert isinstance(game, Game), f"{game!r} is not a Game"
    assert isinstance(game.d_steps, int) and game.d_steps >= 1, f"d_steps must be a positive integer, got {game.d_steps!r}"
    assert not any(True for _ in getattr(game, "parameters", lambda: [])()), "a game owns no parameters"
    assert isinstance(game.shape, Shape), f"{game!r}: shape must be a games.Shape, got {game.shape!r}"
    name = game.id or game

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gens, discs = tiny_team(game, seed)
        real = torch.randn(32, 2, generator=torch.Generator().manual_seed(seed))

        g_before, d_before = _snapshot(gens), _snapshot(discs)
        for d in discs:
            d.zero_grad()
        stats = game.update_generators(gens, discs, 32)
        assert _same(_snapshot(discs), d_before), f"{name}: a discriminator moved during a generator update"
        assert all(p.grad is None for d in discs for p in d.net.parameters()), (
            f"{name}: gradients reached a discriminator during a generator update"
        )
        assert not _same(_snapshot(gens), g_before), f"{name}: the generators did not move in their own update"
        assert stats["g_loss"].dim() == 0 and torch.isfinite(stats["g_loss"]), f"g_loss is {stats['g_loss']}"

        g_before, d_before = _snapshot(gens), _snapshot(discs)
        for g in gens:
            g.zero_grad()
        stats = game.update_discriminators(gens, discs, real)
        assert _same(_snapshot(gens), g_before), f"{name}: a generator moved during a discriminator update"
        assert all(p.grad is None for g in gens for p in g.net.parameters()), (
            f"{name}: gradients reached a generator during a discriminator update"
        )
        assert not _same(_snapshot(discs), d_before), f"{name}: the discriminators did not move in their own update"
        for key in ("d_loss", "d_real", "d_fake"):
            assert stats[key].dim() == 0 and torch.isfinite(stats[key]), f"{key} is {stats[key]}"

        with torch.no_grad():
            for g in gens:
                for d in discs:
                    score = float(game.score(d(real), d(g.sample(32))))
                    assert 0.0 <= score <= 1.0, f"score returned {score}, outside [0, 1]"

    if game.shape.stacks != "none":
        _check_stacking(game, seed)

    first, g1, d1 = _play(game, seed, rounds)
    second, g2, d2 = _play(game, seed, rounds)
    for s in first:
        for k, v in s.items():
            if not np.isfinite(v):
                warnings.warn(f"{name}: {k} is not finite", RuntimeWarning, stacklevel=2)
    assert first == second, f"{name}: two plays under seed {seed} differ: {first} != {second}"
    assert _same(_snapshot(g1), _snapshot(g2)) and _same(_snapshot(d1), _snapshot(d2)), "weights differ under one seed"
