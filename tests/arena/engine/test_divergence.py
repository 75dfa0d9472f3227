"""arena/engine/divergence.py: a diverging agent is rolled back and retired; the others are untouched."""

from __future__ import annotations

import copy
import json

import pytest
import torch

import arena
from arena.config import parse_config
from arena.core.errors import ArenaError
from arena.engine.arena import build_arena
from arena.engine.divergence import DivergenceGuard
from arena.tournament.loop import Tournament
from games.checker import tiny_pair
from tests.conftest import tiny_raw, train


def pool(faulty_lr: float | None) -> dict:
    """Two generators against d0, plus d1 (with learning rate ``faulty_lr``) when given."""
    raw = tiny_raw(schedule={"matchings": 8, "steps_per_match": 10, "batch_size": 32})
    g, d = raw["agents"]
    g["count"] = 2
    d0 = copy.deepcopy(d)
    d0["name"] = "d0"
    agents = [g, d0]
    if faulty_lr is not None:
        d1 = copy.deepcopy(d)
        d1["name"] = "d1"
        d1["optim"]["lr"] = faulty_lr
        agents.append(d1)
    raw["agents"] = agents
    return raw


def run(raw: dict, tmp_path, name: str) -> Tournament:
    return train(raw, tmp_path / name)


@pytest.mark.parametrize("matchings", ["one-by-one", "batched", "fused"])
def test_a_diverging_agent_is_undone_and_retired_and_the_others_play_on(tmp_path, matchings, monkeypatch):
    raw = pool(1e6)
    raw["compute"] = {"execution": matchings}
    if matchings == "fused":  # compute.compile's fused round, run uncompiled
        monkeypatch.setattr(torch, "compile", lambda fn, **options: fn)
        raw["compute"] = {"compile": True}
    faulty = run(raw, tmp_path, "faulty")
    clean = run(pool(None), tmp_path, "clean")
    for name in ("g0", "g1", "d0"):
        a, b = faulty.arena.agent(name), clean.arena.agent(name)
        assert a.steps == b.steps, "the others play every match they would without d1"
        assert all(torch.isfinite(p).all() for p in a.net.parameters())
    # every match d1 played was undone: it ends exactly as it started
    fresh = build_arena(parse_config(pool(1e6))).agent("d1")
    d1 = faulty.arena.agent("d1")
    for (key, x), y in zip(d1.net.state_dict().items(), fresh.net.state_dict().values()):
        assert torch.equal(x, y), key
    assert d1.steps == 0
    records = [json.loads(x) for x in (tmp_path / "faulty" / "metrics.jsonl").read_text().splitlines()]
    assert any(r.get("batched") for r in records if r["kind"] == "train") == (matchings != "one-by-one")
    div = [r for r in records if r["kind"] == "divergence"]
    assert [r["agent"] for r in div] == ["d1", "d1", "d1"]
    assert [r["action"] for r in div] == ["rolled back", "rolled back", "retired"]
    assert div[0]["lr"] == pytest.approx(1e5) and div[1]["lr"] == pytest.approx(1e4)
    assert faulty.guard.retired == ["d1"]
    assert all(torch.isfinite(p).all() for p in faulty.arena.agent("d1").net.parameters()), "d1 is rolled back to good weights"
    # the leaderboard shows it; cross-play leaves it out once retired
    board = json.loads((tmp_path / "faulty" / "leaderboard.json").read_text())
    status = {r["agent"]: r["status"] for r in board["rows"]}
    assert status == {"g0": "active", "g1": "active", "d0": "active", "d1": "retired"}
    results = json.loads((tmp_path / "faulty" / "results.json").read_text())
    assert [row[1] for row in results[-1]["payoff"]] == [None, None]
    assert all(cell is not None for row in results[-1]["payoff"] for cell in row[:1])


def test_retirement_survives_resume(tmp_path):
    faulty = run(pool(1e6), tmp_path, "faulty")
    again = arena.load(tmp_path / "faulty").tournament
    assert again.guard.retired == ["d1"] and again.guard.failures == {"d1": 3}
    assert faulty.guard.state_dict() == again.guard.state_dict()


def test_run_stops_with_a_clear_error_when_a_whole_role_is_retired(tmp_path):
    raw = tiny_raw()
    raw["agents"][1]["optim"]["lr"] = 1e6
    with pytest.raises(ArenaError, match="every discriminator has been retired after repeated divergence"):
        run(raw, tmp_path, "dead")
    assert any((tmp_path / "dead" / "checkpoints").glob("*.json")), "state is checkpointed before stopping"


def test_nan_loss_with_sound_weights_blames_both_players():
    g, d = tiny_pair()
    guard = DivergenceGuard(max_weight=1e3, lr_factor=0.5, max_failures=3)
    assert guard.check({"d_loss": 0.7, "g_loss": 0.7}, (g, d)) == []
    blamed = guard.check({"d_loss": float("nan"), "g_loss": 0.7}, (g, d))
    assert [a.name for a, _ in blamed] == ["g", "d"] and "non-finite d_loss" in blamed[0][1]
    with torch.no_grad():
        next(d.net.parameters())[0, 0] = 1e6
    assert [(a.name, why.split(" (")[0]) for a, why in guard.check({"d_loss": 0.7}, (g, d))] == [("d", "exploding weights in body.1.weight")]


def test_the_guard_keeps_the_cuda_random_state_of_the_arenas_own_device(monkeypatch):
    """On ``device: cuda:1`` the snapshot and the rollback use cuda:1's random state, not that of
    whichever device is current (checked here by recording what the guard asks torch for)."""
    calls = []

    def get_state(device="cuda"):
        calls.append(("get", torch.device(device)))
        return torch.zeros(16, dtype=torch.uint8)

    def set_state(state, device="cuda"):
        calls.append(("set", torch.device(device)))

    monkeypatch.setattr(torch.cuda, "get_rng_state", get_state)
    monkeypatch.setattr(torch.cuda, "set_rng_state", set_state)
    g, d = tiny_pair()
    guard = DivergenceGuard(max_weight=1e3, lr_factor=0.5, max_failures=3, device="cuda:1")
    guard.restore((g, d), guard.snapshot((g, d)))
    assert calls == [("get", torch.device("cuda:1")), ("set", torch.device("cuda:1"))]
    cpu_guard = DivergenceGuard(max_weight=1e3, lr_factor=0.5, max_failures=3)
    cpu_guard.restore((g, d), cpu_guard.snapshot((g, d)))
    assert len(calls) == 2, "a CPU arena touches no CUDA state"


@pytest.mark.parametrize(("bad", "expected"), [
    (float("nan"), "non-finite weights in body.1.bias"),
    (float("-inf"), "non-finite weights in body.1.bias"),
    (-2e3, "exploding weights in body.1.bias (|w| = 2e+03 > 1000)"),
    (999.0, None),
])
def test_the_weight_check_names_the_first_unusable_parameter(bad, expected):
    """The check reads every parameter's largest magnitude in one synchronisation: NaN and -inf
    are non-finite, a magnitude above max_weight explodes, and the first such parameter in the
    network's order is named."""
    _, d = tiny_pair()
    guard = DivergenceGuard(max_weight=1e3, lr_factor=0.5, max_failures=3)
    params = dict(d.net.named_parameters())
    with torch.no_grad():
        params["body.1.bias"][0] = bad
        if expected is not None:  # a later parameter worse still is not the one named
            list(params.values())[-1][0] = float("nan")
    assert guard.weight_problem(d) == expected
