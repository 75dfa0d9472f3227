"""arena/tournament/judgements.py: how a discriminator's calls become its score, on known inputs."""

from __future__ import annotations

import pytest
import torch

from arena.tournament.crossplay import features, payoff_matrix
from arena.tournament.judgements import auc, coverage, judgement_against, judgement_for, judgements, likelihood, manifold
from tests.conftest import NetJudge


def test_auc_and_likelihood_on_known_inputs():
    assert float(auc(torch.tensor([3.0, 4.0]), torch.tensor([1.0, 2.0]))) == 1.0
    assert float(auc(torch.tensor([1.0, 4.0]), torch.tensor([2.0, 3.0]))) == 0.5
    assert float(auc(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]))) == 0.5, "ties count one half"
    assert float(likelihood(torch.zeros(4), torch.zeros(4))) == pytest.approx(0.5)
    p_real, p_fake = 0.9, 0.2  # D(x) on real and on generated data
    logit = lambda p: torch.tensor([float(torch.logit(torch.tensor(p)))])
    assert float(likelihood(logit(p_real), logit(p_fake))) == pytest.approx((0.9 * 0.8) ** 0.5)
    assert judgements.ids() == ["auc", "density-coverage", "game", "likelihood", "manifold"]
    import games

    assert float(judgement_for("game", games.make("gan-v0"))(torch.tensor([1.0, -1.0]), torch.tensor([-1.0, -1.0]))) == 0.75


def test_the_density_coverage_judgement_sees_uneven_modes_that_recall_cannot():
    """Two generators as sharp as the data, one drawing its two modes 1 : 1 and one 3 : 1: k-NN
    precision and recall (``manifold``) score both about perfect (recall's balls are the generated
    samples' own, which grow where they are sparse), density and coverage scores the tilted one
    worse by about ``1 - sqrt(0.929 / 0.969)``; judged against one prepared real set, the same."""
    g = torch.Generator().manual_seed(2)
    blob = lambda c, n: torch.randn(n, 2, generator=g) * 0.05 + c
    real = torch.cat([blob(-1.0, 2000), blob(1.0, 2000)])
    even, tilted = torch.cat([blob(-1.0, 2000), blob(1.0, 2000)]), torch.cat([blob(-1.0, 3000), blob(1.0, 1000)])
    assert abs(float(manifold(real, even)) - float(manifold(real, tilted))) < 0.01
    assert float(coverage(real, tilted)) - float(coverage(real, even)) == pytest.approx(1 - (0.929 / 0.969) ** 0.5, abs=0.008)
    assert float(coverage(real, even)) < 0.03 and float(coverage(real, blob(5.0, 4000))) == 1.0
    against = judgement_against("density-coverage", real)
    assert [float(against(x)) for x in (even, tilted)] == [float(coverage(real, x)) for x in (even, tilted)]


class _Sampled:
    def __init__(self, name):
        self.name, self.device = name, torch.device("cpu")


def test_the_manifold_judgement_sees_a_dropped_mode_that_per_sample_calls_cannot():
    """Two generators, one covering both modes of the data and one only the first, equally sharp:
    a discriminator that judges samples one by one scores them alike (it is equally unsure of
    every sample of either), the manifold judgement in its features rates the full one higher."""
    import games

    g = torch.Generator().manual_seed(1)
    blob = lambda c, n: torch.randn(n, 2, generator=g) * 0.05 + c
    real = torch.cat([blob(-1.0, 600), blob(1.0, 600)])
    samples = {"full": torch.cat([blob(-1.0, 600), blob(1.0, 600)]), "half": blob(-1.0, 1200)}
    torch.manual_seed(0)
    d = NetJudge(torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1)))
    with torch.no_grad():  # a judge that is unsure everywhere: its logit is 0 for every input
        d.net[-1].weight.zero_()
        d.net[-1].bias.zero_()
    gens = [_Sampled("full"), _Sampled("half")]
    game = games.make("gan-v0")
    flat = payoff_matrix(gens, [d], samples, real, lambda g_, d_: game, judgement="likelihood")
    assert flat[0][0] == pytest.approx(flat[1][0]), "per-sample calls cannot tell them apart"
    seen = payoff_matrix(gens, [d], samples, real, lambda g_, d_: game, judgement="manifold")
    assert seen[0][0] < 0.1 and seen[1][0] == pytest.approx(1 - 0.5 ** 0.5, abs=0.05)
    assert features(d, real).shape == (1200, 16), "the input of the last layer"
