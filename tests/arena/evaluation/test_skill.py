"""arena/evaluation/skill.py and arena/tournament/judgements.py: `arena league` rates the
generators of several runs (and their older checkpoints) against one common panel; the sharper
judgements on known inputs."""

from __future__ import annotations

import json

import pytest
import torch

import arena
from arena.config import parse_config
from arena.tournament.judgements import auc, judge_for, judgements, likelihood
from tests.conftest import run_cli, tiny_raw


def test_auc_and_likelihood_on_known_inputs():
    assert float(auc(torch.tensor([3.0, 4.0]), torch.tensor([1.0, 2.0]))) == 1.0
    assert float(auc(torch.tensor([1.0, 4.0]), torch.tensor([2.0, 3.0]))) == 0.5
    assert float(auc(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]))) == 0.5, "ties count one half"
    assert float(likelihood(torch.zeros(4), torch.zeros(4))) == pytest.approx(0.5)
    p_real, p_fake = 0.9, 0.2  # D(x) on real and on generated data
    logit = lambda p: torch.tensor([float(torch.logit(torch.tensor(p)))])
    assert float(likelihood(logit(p_real), logit(p_fake))) == pytest.approx((0.9 * 0.8) ** 0.5)
    assert judgements.ids() == ["auc", "game", "likelihood"]
    import games

    assert float(judge_for("game", games.make("gan-v0"))(torch.tensor([1.0, -1.0]), torch.tensor([-1.0, -1.0]))) == 0.75


def test_arena_league_rates_generators_of_several_runs_on_one_scale(tmp_path, capsys):
    g, d = tiny_raw()["agents"]
    for name, seed in (("a", 0), ("b", 1)):
        raw = tiny_raw(seed=seed, agents=[{**g, "count": 2}, d], schedule={"matchings": 4, "steps_per_match": 10},
                       eval={"every": 2}, checkpoint={"every": 2, "keep_last": 5})
        arena.run(parse_config(raw), out=tmp_path / name)
    out = tmp_path / "league.json"
    assert run_cli("league", tmp_path / "a", tmp_path / "b", "--checkpoints", "all", "--truth", "--judge", "auc",
                   "-n", 300, "-o", out) == 0
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
    assert run_cli("league", tmp_path / "a", "--judge", "psychic") == 2
    assert "unknown judgement 'psychic'" in capsys.readouterr().err
