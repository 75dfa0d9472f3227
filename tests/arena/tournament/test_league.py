"""arena/tournament/league.py: frozen snapshots join the pool, are played (they never learn) and
rated, are kept to the last few, and survive a resume."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

import arena
from arena.config import parse_config
from arena.core.errors import ConfigError
from tests.conftest import assert_same_weights, keep_checkpoints_until, records, tiny_pool, train, weights


def league_raw(**changes) -> dict:
    raw = tiny_pool(2, 2, schedule={"matchings": 8, "steps_per_match": 5},
                   review={"every": 2}, checkpoint={"every": 2}, league={"every": 2, "keep": 2, "play_every": 1})
    raw.update(changes)
    return raw


def test_snapshots_are_played_and_rated_but_never_learn(tmp_path):
    t = train(league_raw(), tmp_path / "run")
    snaps = [r for r in records(tmp_path / "run") if r["kind"] == "snapshot"]
    assert [r["matching"] for r in snaps] == [2, 2, 4, 4, 6, 6], "at every evaluation but the last, one per role"
    assert {r["role"] for r in snaps} == {"generator", "discriminator"}
    kept = t.league.records
    assert [r["matching"] for r in kept if r["role"] == "generator"] == [4, 6], "the last 2 of each role"
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    last = results[-1]
    league_names = {r["name"] for r in kept}
    assert league_names <= {*last["generators"], *last["discriminators"]}, "snapshots are in cross-play"
    assert all(cell is not None for row in last["payoff"] for cell in row)
    ratings = t.standings.ratings
    assert league_names <= set(ratings), "and rated"
    board = {r["agent"]: r for r in json.loads((tmp_path / "run" / "leaderboard.json").read_text())["rows"]}
    for r in kept:
        assert board[r["name"]]["status"] == f"snapshot of {r['of']} @{r['matching']}"
    # snapshots never change once taken; learners played extra matches against them
    snap = t.league.generators[-1]
    assert not any(p.requires_grad for p in snap.net.parameters()) and snap.frozen and not snap.net.training
    assert sum(board[n]["matches"] for n in ("g0", "g1")) > 8 * 2, "learners played league matches too"
    assert board[snap.name]["matches"] > 0


def test_a_frozen_copy_does_not_move_in_its_matches():
    a = arena.engine.arena.build_arena(parse_config(league_raw()))
    g, d = a.generators[0], a.discriminators[0]
    snap = d.frozen_copy("d0#0", 1)
    before = {k: v.clone() for k, v in snap.net.state_dict().items()}
    from arena.engine.match import play_match

    stats = play_match(a.game, g, snap, a.stream, 5)
    assert set(stats) == {"d_loss", "d_real", "d_fake", "g_loss"}
    for k, v in snap.net.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert g.steps == 5


def test_the_league_survives_a_resume(tmp_path):
    full = train(league_raw(), tmp_path / "full")
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "full", cut)
    keep_checkpoints_until(cut, 4)
    resumed = arena.resume(cut).tournament
    assert_same_weights(weights(full), weights(resumed))
    assert [s.name for s in resumed.league.snapshots] == [s.name for s in full.league.snapshots]
    assert records(tmp_path / "full") == records(cut)


def test_snapshots_come_at_evaluations():
    with pytest.raises(ConfigError, match="league.every must be a multiple of review.every"):
        parse_config(league_raw(league={"every": 3}))
