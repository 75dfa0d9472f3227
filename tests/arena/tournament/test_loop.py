"""arena/tournament/loop.py: the loop's own state (checkpoints of it, and their format), the order
of what it tells its callbacks."""

from __future__ import annotations

import json
import re
import shutil

import pytest

import arena
from arena.config import parse_config
from arena.core.errors import CheckpointError
from arena.engine.arena import build_arena
from arena.tournament.loop import CHECKPOINT_FORMAT, Tournament
from tests.conftest import (
    assert_same_weights,
    keep_checkpoints_until,
    records,
    tiny_raw,
    tiny_tournament,
    train,
    weights,
)


def test_a_checkpoint_of_a_newer_format_is_refused_in_one_line():
    raw = tiny_raw(schedule={"matchings": 2, "steps_per_match": 2})
    t = Tournament(build_arena(parse_config(raw)))
    t.run()
    state = t.state_dict()
    assert state["format"] == CHECKPOINT_FORMAT
    fresh = Tournament(build_arena(parse_config(raw)))
    fresh.load_state_dict(state)  # its own format loads
    assert fresh.completed == 2
    state["format"] = CHECKPOINT_FORMAT + 1
    with pytest.raises(CheckpointError, match=re.escape(f"the checkpoint of matching 2 has format {CHECKPOINT_FORMAT + 1}, "
                                                        f"newer than the {CHECKPOINT_FORMAT} this gan-arena reads; "
                                                        "upgrade gan-arena to load it")):
        Tournament(build_arena(parse_config(raw))).load_state_dict(state)


def test_tournament_resume_equals_an_uninterrupted_run(tmp_path):
    raw = tiny_tournament(checkpoint={"every": 3, "keep_last": 5}, schedule={"type": "all-vs-best", "matchings": 8})
    full = train(raw, tmp_path / "full")
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "full", cut)
    keep_checkpoints_until(cut, 3)
    opened = arena.api.Run.open(cut)
    assert opened.tournament.completed == 3
    resumed = opened.play().tournament
    assert_same_weights(weights(full), weights(resumed))
    assert records(tmp_path / "full") == records(cut)
    for name in ("results.json", "lineage.json", "mixture.json", "leaderboard.json"):
        assert (tmp_path / "full" / name).read_text() == (cut / name).read_text(), name
    assert full.standings.lineage and full.standings.ratings.keys() == resumed.standings.ratings.keys()


def test_agents_with_another_network_and_another_game_play_in_one_tournament(tmp_path):
    g, d = tiny_raw()["agents"]
    other_d = {**d, "name": "critic", "net": {"type": "maxout-mlp", "units": [16], "pieces": 3},
               "game": {"id": "wgan-gp-v0", "d_steps": 2}}
    other_g = {**g, "name": "h", "net": {"type": "mlp", "hidden": [16, 16, 16], "act": "leaky_relu"}}
    t = train(tiny_raw(agents=[g, other_g, d, other_d], schedule={"matchings": 4}, review={"every": 2, "samples": 200}),
              tmp_path / "run")
    assert t.arena.game_for(t.arena.agent("g"), t.arena.agent("critic")).id == "wgan-gp-v0"
    assert t.arena.game_for(t.arena.agent("h"), t.arena.agent("d")).id == "gan-v0"
    board = json.loads((tmp_path / "run" / "leaderboard.json").read_text())
    assert {r["agent"] for r in board["rows"]} == {"g", "h", "d", "critic"}
    assert all(r["matches"] == 4 for r in board["rows"])


@pytest.mark.parametrize("game,gens,discs", [
    ({"id": "gman-v0", "mean": "softmax", "learn_lam": True}, 1, 3),
    ({"id": "madgan-v0"}, 3, 1),
])
def test_multi_player_games_run_in_the_tournament(tmp_path, game, gens, discs):
    g, d = tiny_raw()["agents"]
    raw = tiny_raw(game=game, agents=[{**g, "count": gens}, {**d, "count": discs}],
                   schedule={"matchings": 4}, review={"every": 2, "samples": 200})
    t = train(raw, tmp_path / "run")
    assert t.rounds == 4 * 10 * gens * discs
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert len(results[-1]["payoff"]) == gens and len(results[-1]["payoff"][0]) == discs
    if game["id"] == "gman-v0":
        assert "gman_lambda" in t.arena.generators[0].state_dict()["extras"]
    else:
        assert t.arena.discriminators[0].action_space.shape == (gens + 1,)
