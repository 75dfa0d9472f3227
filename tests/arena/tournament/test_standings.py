"""arena/tournament/standings.py and leaderboard.py: identities, ratings recomputed from results,
scores, lineage and the leaderboard's rows, on known answers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from arena.engine.divergence import DivergenceGuard
from arena.output.record import OutputRecord
from arena.tournament.leaderboard import SHOWN_METRICS, agent_status, leaderboard_rows, standings_rows
from arena.tournament.ratings import Rating, compute_ratings
from arena.tournament.standings import Standings


def agent(name: str, role: str = "generator") -> SimpleNamespace:
    return SimpleNamespace(name=name, role=role, frozen=False)


G0, G1, D0, D1 = agent("g0"), agent("g1"), agent("d0", "discriminator"), agent("d1", "discriminator")
# d0 tells g0's samples from real data 90 % of the time, g1's 60 %; d1: 70 % and 50 %
PERIOD = {"matching": 2, "rounds": 20, "generators": ["g0", "g1"], "discriminators": ["d0", "d1"],
          "payoff": [[0.9, 0.7], [0.6, 0.5]]}


def test_ratings_are_recomputed_from_the_recorded_results():
    s = Standings()
    assert s.rating(G0) == float("-inf") and s.ranking([G0, G1], [D0, D1]) == ([0, 1], [0, 1])
    s.add_results(PERIOD, "elo")
    assert s.ratings == compute_ratings("elo", [PERIOD])
    assert s.rating(G1) > s.rating(G0), "g1 is caught less often"
    assert s.rating(D0) > s.rating(D1), "d0 catches more"
    assert s.ranking([G0, G1], [D0, D1]) == ([1, 0], [0, 1])


def test_scores_are_each_agents_mean_over_the_matrix():
    s = Standings()
    s.record_scores([G0, G1], [D0, D1], [[0.9, None], [0.6, 0.5]])  # d1 retired against g0
    assert s.scores == {"g0": pytest.approx(0.1), "g1": pytest.approx(0.45), "d0": pytest.approx(0.75), "d1": pytest.approx(0.5)}


def test_a_replaced_agent_is_rated_afresh_under_a_new_identity():
    s = Standings()
    s.add_results(PERIOD, "elo")
    record = {"replaced": "g0", "parent": "g1", "matching": 4}
    s.record_selection([record, {"replaced": "d1", "parent": None, "matching": 4}], {"g0": G0, "d1": D1})
    assert s.identity(G0) == "g0@1" and s.identity(D1) == "d1" and record["identity"] == "g0@1"
    assert s.rating(G0) == float("-inf"), "the copy has no results yet"
    assert s.replacements(G0) == [record] and s.replacements(G1) == []


def test_the_state_round_trips_and_ratings_are_recomputed_on_load():
    s = Standings()
    s.add_results(PERIOD, "glicko2")
    s.count_match([G0, D0])
    s.count_match([G0, D1])
    s.output = OutputRecord(["g0"], [1.0], 4, {"modes": 3})
    loaded = Standings()
    loaded.load_state_dict(s.state_dict(), "glicko2")
    assert loaded.matches == {"g0": 2, "d0": 1, "d1": 1} and loaded.output == s.output
    assert loaded.ratings == s.ratings


def test_leaderboard_rows_rank_each_role_by_rating_and_carry_the_shown_metrics():
    ratings = {"g0": Rating(1400.0, 30.0, 4), "g1@1": Rating(1600.04, None, 4), "d0": Rating(1500.0, 20.0, 4)}
    rows = leaderboard_rows([("g0", "generator", "g0"), ("g1", "generator", "g1@1"), ("d0", "discriminator", "d0"),
                             ("d1", "discriminator", "d1")],
                            ratings, {"g0": 3}, {"g0": 0.123456}, {"g0": {"modes": 8, "quality": 0.9, "high_quality": 97.5}},
                            {"d1": "retired"})
    assert [(r["agent"], r["rank"]) for r in rows] == [("g1", 1), ("g0", 2), ("d0", 1), ("d1", 2)]
    g0 = rows[1]
    assert g0 == {"rank": 2, "agent": "g0", "role": "generator", "rating": 1400.0, "uncertainty": 30.0, "matches": 3,
                  "score": 0.1235, "modes": 8, "high_quality": 97.5, "status": "active"}
    assert "quality" not in SHOWN_METRICS and rows[0]["rating"] == 1600.0 and rows[0]["uncertainty"] is None
    assert rows[3]["rating"] is None and rows[3]["status"] == "retired"


def test_an_agents_status_says_what_happened_to_it():
    guard = DivergenceGuard(1e3, 0.1, 2, True, "cpu")
    s = Standings()
    s.record_selection([{"replaced": "g0", "parent": "g1", "matching": 50}], {"g0": G0})
    assert agent_status(G0, guard, s) == "copy of g1 @50"
    guard.failures["g1"] = 1  # as guard.fail counts a voided match (which also lowers the learning rate)
    assert agent_status(G1, guard, s) == "diverged x1"
    guard.retired.append("g1")
    assert agent_status(G1, guard, s) == "retired"
    snap = SimpleNamespace(name="g1#40", role="generator", frozen=True)
    assert agent_status(snap, guard, s, lambda name: "snapshot of g1 @40") == "snapshot of g1 @40"
    rows = standings_rows([G0, G1, D0], s, guard)
    assert {r["agent"]: r["status"] for r in rows} == {"g0": "copy of g1 @50", "g1": "retired", "d0": "active"}
