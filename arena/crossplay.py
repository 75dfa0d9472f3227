"""Cross-play: every generator against every discriminator on held-out data.

Each discriminator judges the held-out real data and all generators' samples in one batched
forward pass (the generators' samples concatenated), so an N x M evaluation costs M forward
passes, not N x M. The judgement belongs to the game of each pair (by default D's balanced
accuracy); the generator's score is 1 minus it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from agents import Discriminator, Generator
from games import Game

__all__ = ["payoff_matrix"]


def payoff_matrix(
    generators: Sequence[Generator],
    discriminators: Sequence[Discriminator],
    samples: dict[str, torch.Tensor],
    real: torch.Tensor,
    game_for: Callable[[Generator, Discriminator], Game],
    active: Callable[[object], bool] = lambda agent: True,
) -> list[list[float | None]]:
    """The N x M matrix of each discriminator's score against each generator.

    Args:
        generators, discriminators: the players.
        samples: each generator's samples, by name (drawn beforehand, in eval mode).
        real: held-out real data.
        game_for: the game a pair plays (its ``judge`` and ``realness`` read D's outputs).
        active: players for which this returns False (retired ones) get ``None`` cells.
    """
    playing = [g for g in generators if active(g)]
    sizes = [samples[g.name].shape[0] for g in playing]
    fakes = torch.cat([samples[g.name] for g in playing]) if playing else None
    payoff: list[list[float | None]] = [[None] * len(discriminators) for _ in generators]
    rows = {g.name: i for i, g in enumerate(generators)}
    for j, d in enumerate(discriminators):
        if not active(d) or fakes is None:
            continue
        was_training = d.training
        d.eval()
        try:
            with torch.no_grad():
                real_out = d(real.to(d.device))
                fake_out = d(fakes.to(d.device)).split(sizes)
        finally:
            d.train(was_training)
        for g, out in zip(playing, fake_out):
            payoff[rows[g.name]][j] = float(game_for(g, d).judge(real_out, out))
    return payoff
