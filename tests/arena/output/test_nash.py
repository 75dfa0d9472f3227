"""arena/output/nash.py and the weightings without an oracle: the maximum-entropy Nash
equilibrium of the meta-game on matrices with known equilibria, and the held-out MMD fit on
samples with a known best mixture."""

from __future__ import annotations

import pytest
import torch

from arena.output.mixture import _kernel_means, mmd_weights
from arena.output.nash import max_entropy_nash, solve_zero_sum

# (payoff: discriminator j's score against generator i, the generators' max-entropy equilibrium, the value)
KNOWN = [
    ([[0.0, 1.0], [1.0, 0.0]], [0.5, 0.5], 0.5),  # matching pennies
    ([[0.2, 0.3], [0.6, 0.7]], [1.0, 0.0], 0.3),  # generator 0 dominates
    ([[0.5, 1.0, 0.0], [0.0, 0.5, 1.0], [1.0, 0.0, 0.5]], [1 / 3, 1 / 3, 1 / 3], 0.5),  # rock-paper-scissors
    ([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]], [0.25, 0.25, 0.5], 0.5),  # a duplicate: its half is shared
    ([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]], [1 / 3, 1 / 3, 1 / 3], 0.5),  # every mixture is an equilibrium
    ([[0.1, 0.9, 0.5], [0.8, 0.2, 0.5]], [3 / 7, 4 / 7], 0.5),  # 0.1a + 0.8b = 0.9a + 0.2b
]


@pytest.mark.parametrize("payoff, expected, value", KNOWN)
def test_the_maximum_entropy_equilibrium_of_known_games(payoff, expected, value):
    w, v = max_entropy_nash(payoff)
    assert v == pytest.approx(value, abs=1e-9)
    assert w.tolist() == pytest.approx(expected, abs=1e-4)
    assert max(sum(w[i] * payoff[i][j] for i in range(len(w))) for j in range(len(payoff[0]))) <= v + 1e-6


def test_the_linear_program_alone_finds_an_equilibrium_of_the_same_value():
    w, v = solve_zero_sum([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert v == pytest.approx(0.5) and w[2] == pytest.approx(0.5) and w[0] + w[1] == pytest.approx(0.5)


def test_mmd_weights_recover_the_proportions_of_the_reference():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(800, 2, generator=g) * 0.05 + torch.tensor([1.0, 0.0])
    b = torch.randn(800, 2, generator=g) * 0.05 + torch.tensor([-1.0, 0.0])
    blurry = torch.randn(800, 2, generator=g)
    for share in (0.5, 0.75):
        k = int(1000 * share)
        reference = torch.cat([torch.randn(k, 2, generator=g) * 0.05 + torch.tensor([1.0, 0.0]),
                               torch.randn(1000 - k, 2, generator=g) * 0.05 + torch.tensor([-1.0, 0.0])])
        w = mmd_weights(*_kernel_means([a, b, blurry], reference))
        assert w == pytest.approx([share, 1 - share, 0.0], abs=0.03)
