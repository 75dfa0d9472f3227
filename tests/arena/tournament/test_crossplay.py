"""arena/tournament/crossplay.py: every generator against every discriminator, stacked or one by one."""

from __future__ import annotations

import copy

import pytest
import torch

from arena.config import parse_config
from arena.engine.arena import build_arena
from arena.tournament.crossplay import payoff_matrix
from tests.conftest import (
    tiny_tournament,
)


def test_payoff_matrix_batched_equals_pair_by_pair():
    """Three discriminators of one architecture judge stacked, a fourth of another alone."""
    raw = tiny_tournament()
    other = copy.deepcopy(raw["agents"][1])
    other.update(name="e", count=1, net={"type": "mlp", "hidden": [8]})
    raw["agents"].append(other)
    arena = build_arena(parse_config(raw))
    assert len(arena.discriminators) == 4
    gen = torch.Generator().manual_seed(0)
    samples = {g.name: g.sample(100, gen).detach() for g in arena.generators}
    real = arena.data.test[:100]
    payoff = payoff_matrix(arena.generators, arena.discriminators, samples, real, arena.game_for, stack=True)
    assert all(d.training for d in arena.discriminators), "each discriminator is back in training mode"
    one_by_one = payoff_matrix(arena.generators, arena.discriminators, samples, real, arena.game_for, stack=False)
    assert [c for row in one_by_one for c in row] == pytest.approx([c for row in payoff for c in row])
    for i, g in enumerate(arena.generators):
        for j, d in enumerate(arena.discriminators):
            d.eval()
            with torch.no_grad():
                expected = float(arena.game.score(d(real), d(samples[g.name])))
            assert payoff[i][j] == pytest.approx(expected)
    retired = payoff_matrix(arena.generators, arena.discriminators, samples, real, arena.game_for,
                            active=lambda a: a.name != "d1")
    assert [row[1] for row in retired] == [None] * 3 and retired[0][0] == payoff[0][0]
