"""arena/recording/writers.py: the metrics log, the standings files and the checkpoints a run writes."""

from __future__ import annotations

import csv
import json

import pytest

from tests.conftest import (
    records,
    tiny_tournament,
    train,
)


def test_a_tournament_writes_results_leaderboard_lineage_and_mixture(tmp_path):
    t = train(tiny_tournament(), tmp_path / "run")
    run = tmp_path / "run"
    results = json.loads((run / "results.json").read_text())
    assert len(results) == 4 and results[0]["generators"] == ["g0", "g1", "g2"]
    assert all(0 <= p <= 1 for r in results for row in r["payoff"] for p in row)
    rows = list(csv.DictReader((run / "leaderboard.csv").open()))
    assert [r["agent"][0] for r in rows] == ["g"] * 3 + ["d"] * 3
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 1, 2, 3]
    board = json.loads((run / "leaderboard.json").read_text())
    assert board["matching"] == 8 and board["system"] == "glicko2"
    ratings = [r["rating"] for r in board["rows"] if r["role"] == "generator"]
    assert ratings == sorted(ratings, reverse=True)
    # 8 matchings x 3 matches: every agent played 8 matches
    assert all(r["matches"] == 8 for r in board["rows"])
    lineage = json.loads((run / "lineage.json").read_text())
    assert [r["matching"] for r in lineage] == [4, 4]  # selection at 4, not after the last matching
    assert {r["role"] for r in lineage} == {"generator", "discriminator"}
    mixture = json.loads((run / "mixture.json").read_text())
    assert 1 <= len(mixture["components"]) <= 2 and sum(mixture["weights"]) == pytest.approx(1)
    assert {"modes", "high_quality", "reverse_kl"} <= set(mixture["metrics"])
    kinds = {r["kind"] for r in records(run)}
    assert {"payoff", "selection", "eval", "train"} <= kinds
    assert t.standings.identity(t.arena.agent(lineage[0]["replaced"])).endswith("@1")
