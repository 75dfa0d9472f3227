"""arena/tournament/selection.py: the worst replaced by mutated copies of the best."""

from __future__ import annotations

import copy

import pytest
import torch

from arena.config import parse_config
from arena.engine.arena import build_arena
from arena.engine.match import play_match
from arena.tournament.callbacks import Callback
from arena.tournament.loop import Tournament
from tests.conftest import (
    tiny_tournament,
)


def test_selection_copies_weights_and_optimizer_state_and_records_lineage(tmp_path):
    raw = tiny_tournament(schedule={"matchings": 4, "steps_per_match": 5, "batch_size": 32},
                      selection={"every": 2, "replace": 1, "mutate": {"lr": 0.5, "betas": 0.05}})
    config = parse_config(raw)
    captured = {}

    class Spy(Callback):
        def on_review(self, tournament, review):
            if review.matching == 2:
                captured.update({n: copy.deepcopy(a.state_dict()) for n, a in tournament.arena.agents.items()})

    t = Tournament(build_arena(config), [Spy()])
    t.run()
    first = [r for r in t.standings.lineage if r["matching"] == 2]
    assert len(first) == 2
    for record in first:
        child, parent = captured[record["replaced"]], captured[record["parent"]]
        for key, value in parent["net"].items():
            assert torch.equal(child["net"][key], value), key
        c_opt, p_opt = child["optim"]["optimizer"], parent["optim"]["optimizer"]
        for idx, state in p_opt["state"].items():
            assert torch.equal(c_opt["state"][idx]["exp_avg"], state["exp_avg"])
            assert torch.equal(c_opt["state"][idx]["exp_avg_sq"], state["exp_avg_sq"])
        assert child["optim"]["steps"] == parent["optim"]["steps"]
        assert child["optim"]["base_lr"] == pytest.approx(record["lr"]) and record["lr"] != parent["optim"]["base_lr"]
        assert c_opt["param_groups"][0]["betas"] == pytest.approx(record["betas"])
        assert record["parent_rating"] > record["replaced_rating"]


def test_a_selected_copy_shares_no_optimizer_state_with_its_parent():
    """The copy gets its own tensors: the parent's later steps leave the copy's Adam moments and
    step counts as they were (torch's load_state_dict keeps the tensors it is given)."""
    from arena.tournament.selection import copy_agent

    arena = build_arena(parse_config(tiny_tournament()))
    parent, child = arena.generators[0], arena.generators[1]
    d = arena.discriminators[0]
    play_match(arena.game, parent, d, arena.stream, 2)
    copy_agent(child, parent)
    before = copy.deepcopy(child.optimizer.optimizer.state_dict()["state"])
    play_match(arena.game, parent, d, arena.stream, 2)
    after = child.optimizer.optimizer.state_dict()["state"]
    for idx, state in before.items():
        for key, value in state.items():
            assert torch.equal(after[idx][key], value), (idx, key)
