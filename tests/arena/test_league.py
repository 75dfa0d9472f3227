"""arena/evaluation/skill.py and arena/tournament/judgements.py: `arena league` rates the
generators of several runs (and their older checkpoints) against one common panel; the sharper
judgements on known inputs."""

from __future__ import annotations

import json
import math

import pytest
import torch

import arena
from arena.config import parse_config
from arena.evaluation.geometry import Manifold, density_coverage, precision_recall
from arena.league import spearman
from arena.tournament.crossplay import features, payoff_matrix
from arena.tournament.judgements import auc, coverage, judgement_against, judgement_for, judgements, likelihood, manifold
from tests.conftest import NetJudge, run_cli, tiny_raw


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


def test_spearman_on_known_ranks_and_undefined_without_warning(recwarn):
    # one swap of neighbours among 4: 1 - 6 * (1 + 1) / (4 * 15) = 0.8; ties take their mean rank
    assert spearman([1, 2, 3, 4], [10, 30, 20, 40]) == pytest.approx(0.8)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [5, 5, 6]) == pytest.approx(0.8660254)
    # every generator alike on a measure (all cover 8 modes), or too few: no rho, and no scipy warning
    assert math.isnan(spearman([1, 2, 3, 4], [8, 8, 8, 8]))
    assert math.isnan(spearman([1, 2], [1, 2]))
    assert not [w for w in recwarn if "constant" in str(w.message)]


def test_precision_and_recall_on_known_sets():
    g = torch.Generator().manual_seed(0)
    two = torch.cat([torch.randn(500, 2, generator=g) * 0.05 - 1, torch.randn(500, 2, generator=g) * 0.05 + 1])
    same = torch.cat([torch.randn(500, 2, generator=g) * 0.05 - 1, torch.randn(500, 2, generator=g) * 0.05 + 1])
    one = torch.randn(1000, 2, generator=g) * 0.05 - 1  # the mode at +1 dropped, the other sharp
    far = torch.randn(1000, 2, generator=g) * 0.05 + 5
    pr = precision_recall(two, same)
    assert pr["precision"] > 0.95 and pr["recall"] > 0.95
    pr = precision_recall(two, one)
    assert pr["precision"] > 0.95 and pr["recall"] == pytest.approx(0.5, abs=0.03), "a dropped mode halves recall, not precision"
    assert precision_recall(two, far) == {"precision": 0.0, "recall": 0.0}
    assert float(manifold(two, far)) == 1.0 and float(manifold(two, two)) == 0.0
    assert float(manifold(two, one)) == pytest.approx(1 - (1 * 0.5) ** 0.5, abs=0.03)
    # prepared once against the real set, then judging several generated sets: the same scores
    against = judgement_against("manifold", two)
    assert [float(against(x)) for x in (far, two, one)] == [float(manifold(two, x)) for x in (far, two, one)]
    with pytest.raises(ValueError, match="more than 3 points"):
        precision_recall(two, one[:3])


def test_density_and_coverage_by_hand():
    """Ten real points on a line, k = 1 (every ball of radius 1): a generated point at 0.5 lies in
    the balls of 0 and 1; one at 20 in none."""
    real = torch.arange(10.0).unsqueeze(1)
    assert Manifold(real, 1).hits(torch.tensor([[0.5], [20.0]])).tolist() == [1, 1] + [0] * 8
    assert density_coverage(real, torch.tensor([[0.5]]), k=1) == {"density": 2.0, "coverage": 0.2}
    assert density_coverage(real, torch.tensor([[20.0]]), k=1) == {"density": 0.0, "coverage": 0.0}
    assert density_coverage(real, real, k=1)["coverage"] == 1.0, "every ball holds its own centre"


def test_coverage_falls_as_the_modes_are_covered_unevenly():
    """With as many generated samples as real ones, a real sample's k-NN ball holds a Gamma(k)
    share of the data's mass, so with the generator's density ``r`` times the data's it holds no
    generated sample with probability ``(1 + r)^-k``: coverage ``1 - 2^-k`` for ``r = 1`` (k = 5:
    0.969) and, for two modes drawn 3 : 1 instead of 1 : 1 (``r`` = 1.5 and 0.5), ``1 - (2.5^-5 +
    1.5^-5) / 2`` = 0.929. Density stays about 1 either way (every generated sample is on the data)."""
    g = torch.Generator().manual_seed(0)
    blob = lambda c, n: torch.randn(n, 2, generator=g) * 0.05 + c
    real = torch.cat([blob(-1.0, 4000), blob(1.0, 4000)])
    even = density_coverage(real, torch.cat([blob(-1.0, 4000), blob(1.0, 4000)]), k=5)
    tilted = density_coverage(real, torch.cat([blob(-1.0, 6000), blob(1.0, 2000)]), k=5)
    assert even["coverage"] == pytest.approx(1 - 2 ** -5, abs=0.006)
    assert tilted["coverage"] == pytest.approx(1 - (2.5 ** -5 + 1.5 ** -5) / 2, abs=0.008)
    assert even["density"] == pytest.approx(1.0, abs=0.05) and tilted["density"] == pytest.approx(1.0, abs=0.05)


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


def test_arena_league_rates_generators_of_several_runs_on_one_scale(tmp_path, capsys):
    g, d = tiny_raw()["agents"]
    for name, seed in (("a", 0), ("b", 1)):
        raw = tiny_raw(seed=seed, agents=[{**g, "count": 2}, d], schedule={"matchings": 4, "steps_per_match": 10},
                       review={"every": 2}, checkpoint={"every": 2, "keep_last": 5})
        arena.run(parse_config(raw), out=tmp_path / name)
    out = tmp_path / "league.json"
    assert run_cli("league", tmp_path / "a", tmp_path / "b", "--checkpoints", "all", "--truth", "--judgement", "auc",
                   "-n", 300, "--truth-samples", 700, "-o", out) == 0
    text = capsys.readouterr().out
    assert "8 generators against 2 discriminators; glicko2, judged by auc" in text
    assert "Spearman's rho of rating and high_quality" in text
    league = json.loads(out.read_text())
    names = [r["generator"] for r in league["rows"]]
    assert sorted(names) == sorted(["a/g0", "a/g1", "a/g0@2", "a/g1@2", "b/g0", "b/g1", "b/g0@2", "b/g1@2"])
    ratings = [r["rating"] for r in league["rows"]]
    assert ratings == sorted(ratings, reverse=True)
    assert league["judges"] == ["a/d", "b/d"] and len(league["payoff"]["payoff"]) == 8
    assert all("high_quality" in r for r in league["rows"]) and -1 <= league["correlations"]["high_quality"] <= 1
    # the truth comes from a draw of its own (700 samples, another seed), not from the 300 judged
    from agents import draw_samples
    from arena.api import Run
    from arena.core.seeding import derive_seed

    run = Run.load(tmp_path / "a")
    frozen = run.arena.generators[0].frozen_copy("a/g0", 0)
    row = next(r for r in league["rows"] if r["generator"] == "a/g0")
    from arena.evaluation.measure import truth as measured_truth

    truth = measured_truth(run.arena.data, draw_samples(frozen, 700, derive_seed(0, "truth")))
    assert league["truth_samples"] == 700 and {k: row[k] for k in truth} == truth
    assert truth != measured_truth(run.arena.data, draw_samples(frozen, 300, 0))
    assert run_cli("league", tmp_path / "a", tmp_path / "b", "--judgement", "manifold", "-n", 300, "-o", out) == 0
    cells = [c for row in json.loads(out.read_text())["payoff"]["payoff"] for c in row]
    assert len(cells) == 8 and all(0 <= c <= 1 for c in cells)  # 4 generators x 2 discriminators
    assert run_cli("league", tmp_path / "a", "--judgement", "psychic") == 2
    assert "unknown judgement 'psychic'" in capsys.readouterr().err
    assert run_cli("league", tmp_path / "a", "--truth", "--truth-samples", 0) == 2
    assert "--truth-samples: expected a positive number of samples, got 0" in capsys.readouterr().err
    assert run_cli("league", tmp_path / "a", tmp_path / "b", "--judgement", "density-coverage", "-n", 300, "-o", out) == 0
    cells = [c for row in json.loads(out.read_text())["payoff"]["payoff"] for c in row]
    assert len(cells) == 8 and all(0 <= c <= 1 for c in cells)
