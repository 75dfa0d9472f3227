"""arena/skill.py: `arena league` rates the generators of several runs (and their older
checkpoints) against one common panel; Spearman's rho on known ranks."""

from __future__ import annotations

import json
import math

import pytest

import arena
from arena.config import parse_config
from arena.skill import spearman
from tests.conftest import run_cli, tiny_raw


def test_spearman_on_known_ranks_and_undefined_without_warning(recwarn):
    # one swap of neighbours among 4: 1 - 6 * (1 + 1) / (4 * 15) = 0.8; ties take their mean rank
    assert spearman([1, 2, 3, 4], [10, 30, 20, 40]) == pytest.approx(0.8)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [5, 5, 6]) == pytest.approx(0.8660254)
    # every generator alike on a measure (all cover 8 modes), or too few: no rho, and no scipy warning
    assert math.isnan(spearman([1, 2, 3, 4], [8, 8, 8, 8]))
    assert math.isnan(spearman([1, 2], [1, 2]))
    assert not [w for w in recwarn if "constant" in str(w.message)]


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
