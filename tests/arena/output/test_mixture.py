"""arena/output/mixture.py: mixtures sample by their weights; weightings with and without the answer."""

from __future__ import annotations

import json

import pytest
import torch

from arena.config import parse_config
from arena.engine.arena import build_arena
from tests.conftest import (
    tiny_tournament,
    train,
)


def test_mixture_samples_follow_the_weights():
    from arena.output.mixture import Mixture

    arena = build_arena(parse_config(tiny_tournament()))
    g0, g1, _ = arena.generators
    with torch.no_grad():
        last = [m for m in g1.net.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.bias.add_(100.0)  # g1's samples are far from g0's
    mixture = Mixture([g0, g1], [0.25, 0.75]).eval()
    with torch.no_grad():
        x = mixture.sample(4000, torch.Generator().manual_seed(0))
    share = float((x[:, 0] > 50).float().mean())
    assert share == pytest.approx(0.75, abs=0.03)


def test_fitted_weights_prefer_generators_that_cover_missing_modes():
    from arena.output.mixture import fit_weights

    # four modes; A covers modes 0-1, B covers 2-3, C covers mode 0 only
    hist = torch.tensor([[0.5, 0.0, 1.0], [0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.5, 0.0]])
    w = fit_weights(hist, torch.ones(4))
    assert w.tolist() == pytest.approx([0.5, 0.5, 0.0], abs=1e-3)


@pytest.mark.parametrize("weights", ["nash", "heldout"])
def test_mixtures_chosen_without_the_answer(tmp_path, weights):
    """The Nash mixture follows the latest payoff matrix (its weights are an equilibrium of it); the
    held-out mixture is fitted to real data the generators never trained on. Neither reads the modes."""
    from arena.output.nash import max_entropy_nash

    t = train(tiny_tournament(schedule={"matchings": 4, "steps_per_match": 5}, mixture={"top": 0, "weights": weights}),
              tmp_path / "run")
    mixture = json.loads((tmp_path / "run" / "mixture.json").read_text())
    assert sum(mixture["weights"]) == pytest.approx(1.0) and set(mixture["components"]) <= {"g0", "g1", "g2"}
    if weights == "nash":
        period = t.standings.results[-1]
        w, _ = max_entropy_nash(period["payoff"])
        expected = {g: x for g, x in zip(["g0", "g1", "g2"], w) if x >= 1e-4}
        total = sum(expected.values())
        assert dict(zip(mixture["components"], mixture["weights"])) == pytest.approx({g: x / total for g, x in expected.items()})
