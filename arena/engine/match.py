"""A match: generators and discriminators playing rounds under one game (one of each, except
in multi-player games)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from agents import Discriminator, Generator
from games import Game

__all__ = ["play_match"]


def play_match(
    game: Game,
    generators: Generator | Sequence[Generator],
    discriminators: Discriminator | Sequence[Discriminator],
    real_batch: Callable[[], torch.Tensor],
    steps: int,
) -> dict[str, float]:
    """Play ``steps`` rounds and return the mean of each round statistic.

    Statistics stay on the device until the end of the match, so a match costs one host
    synchronisation, not one per round.
    """
    gens = [generators] if isinstance(generators, Generator) else list(generators)
    discs = [discriminators] if isinstance(discriminators, Discriminator) else list(discriminators)
    for agent in (*gens, *discs):
        agent.train()
    totals: dict[str, torch.Tensor] = {}
    for _ in range(steps):
        stats = game.play_round(gens, discs, real_batch)
        for key, value in stats.items():
            totals[key] = totals[key] + value if key in totals else value.clone()
    return {key: float(value) / steps for key, value in totals.items()}
