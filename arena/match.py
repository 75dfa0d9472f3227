"""A match: one generator and one discriminator playing rounds under one game."""

from __future__ import annotations

from collections.abc import Callable

import torch

from agents import Discriminator, Generator
from games import Game

__all__ = ["play_match"]


def play_match(
    game: Game,
    generator: Generator,
    discriminator: Discriminator,
    real_batch: Callable[[], torch.Tensor],
    steps: int,
) -> dict[str, float]:
    """Play ``steps`` rounds and return the mean of each round statistic.

    Statistics stay on the device until the end of the match, so a match costs one host
    synchronisation, not one per round.
    """
    generator.train()
    discriminator.train()
    totals: dict[str, torch.Tensor] = {}
    for _ in range(steps):
        stats = game.round(generator, discriminator, real_batch)
        for key, value in stats.items():
            totals[key] = totals[key] + value if key in totals else value.clone()
    return {key: float(value) / steps for key, value in totals.items()}
