"""arena/engine/team.py: GMAN's matches with the discriminators stacked equal them played one by one."""

from __future__ import annotations

import copy
import math

import pytest

from arena.config import parse_config
from arena.core.seeding import seed_global
from arena.engine.arena import build_arena
from arena.engine.match import play_match
from arena.engine.team import TeamKernels, play_team, stackable_team
from arena.tournament.loop import Tournament
from tests.arena.engine.test_batched import (
    MLP,
    PACGAN_D,
    PACGAN_G,
    PACGAN_OPTIM,
    STACKED_DATA,
    assert_same_agents,
    assert_same_stats,
    pool_raw,
)
from tests.conftest import PATHS_RTOL, float64

MAXOUT = {"type": "maxout-mlp", "units": [16, 16], "pieces": 3}


def gman_raw(discriminators: int, g_net: dict, d_net: dict, optims=(None, None), game: dict | None = None, **changes) -> dict:
    raw = pool_raw(1, g_net, d_net, *optims, **changes)
    raw["agents"][1]["count"] = discriminators
    raw["game"] = {"id": "gman-v0", **(game or {})}
    return raw


def vary(arena) -> None:
    """Give the discriminators different histories and hyper-parameters: the first has stepped
    twice already (against the generator alone), each has its own learning rate (and betas)."""
    play_match(arena.game, arena.generators[0], arena.discriminators[:1], arena.stream.fork(99), 2)
    for k, d in enumerate(arena.discriminators):
        d.optimizer.set_base_lr(d.optimizer.base_lr * (1 + 0.5 * k))
        group = d.optimizer_groups[0]
        if "betas" in group:
            group["betas"] = (group["betas"][0] + 0.05 * k, group["betas"][1])


def play_both(raw: dict, steps: int):
    """The same GMAN match, one by one in one arena and with its discriminators stacked in a twin."""
    with float64():
        one, team = (build_arena(parse_config(copy.deepcopy(raw))) for _ in range(2))
        for arena in (one, team):
            seed_global(arena.config.seed)
            vary(arena)
        assert stackable_team(team.game, team.generators, team.discriminators)
        stats_one = play_match(one.game, one.generators, one.discriminators, one.stream.fork(0), steps)
        stats_team = play_team(TeamKernels(team.game, team.discriminators[0]), team.generators[0], team.discriminators,
                               team.stream.fork(0), steps)
    return one, team, stats_one, stats_team


CASES = {
    # the shipped config's agents: transposed convolutions, BatchNorm in both, the pooled mode-seeking term
    "pacgan-mode-seeking": dict(g_net=PACGAN_G, d_net=PACGAN_D, optims=PACGAN_OPTIM,
                                game={"mode_seeking": 1.0, "mode_seeking_pool": 4}, data=STACKED_DATA,
                                schedule={"batch_size": 16}),
    # GMAN*: the softmax mean with lambda learned; two discriminator updates a round, SGD with momentum
    "mlp-learned-lambda": dict(g_net=MLP, d_net=MLP, optims=(None, {"type": "sgd", "lr": 0.05, "momentum": 0.5}),
                               game={"mean": "softmax", "lam": 1.0, "learn_lam": True, "d_steps": 2}),
    # configs/gman.yaml's maxout discriminators (no BatchNorm: real and generated in one pass), geometric mean
    "maxout-geometric": dict(g_net=MLP, d_net=MAXOUT, game={"mean": "geometric"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_gman_match_with_its_discriminators_stacked_equals_one_by_one(case):
    raw = gman_raw(3, **CASES[case])
    if case == "pacgan-mode-seeking":
        raw["agents"][0]["latent"] = {"dist": "normal", "dim": 256}
    one, team, stats_one, stats_team = play_both(raw, steps=3)
    assert_same_agents(one, team)
    assert_same_stats([stats_one], [stats_team])
    if case == "mlp-learned-lambda":
        a, b = (arena.generators[0].extras["gman_lambda"] for arena in (one, team))
        start = math.log(math.expm1(1.0))  # softplus^-1 of lam 1.0
        assert abs(a.item() - start) > 1e-6  # it moved, by the same steps in both
        assert a.item() - start == pytest.approx(b.item() - start, rel=PATHS_RTOL * 1e3)


def test_only_gman_with_discriminators_of_one_signature_stacks():
    arena = build_arena(parse_config(gman_raw(3, MLP, MLP)))
    g, ds = arena.generators, arena.discriminators
    assert stackable_team(arena.game, g, ds)
    assert not stackable_team(arena.game, g, ds[:1])  # one discriminator: a pair
    ds[1].optimizer.optimizer.param_groups[0]["amsgrad"] = True  # an optimizer StackedAgents does not run
    assert not stackable_team(arena.game, g, ds)
    other = build_arena(parse_config(pool_raw(1, MLP, MLP)))
    assert not stackable_team(other.game, other.generators, other.discriminators)  # a pair game
    mixed = gman_raw(2, MLP, MLP)
    mixed["agents"].append({**mixed["agents"][1], "name": "wide", "count": 1, "net": {"type": "mlp", "hidden": [32]}})
    arena = build_arena(parse_config(mixed))
    assert not stackable_team(arena.game, arena.generators, arena.discriminators)


def _tournament(raw: dict) -> Tournament:
    t = Tournament(build_arena(parse_config(raw)))
    t.run()
    return t


def test_a_gman_tournament_stacks_its_discriminators_under_auto_and_equals_one_by_one():
    runs = {}
    for mode in ("one-by-one", "auto"):
        raw = gman_raw(3, MLP, MLP, schedule={"matchings": 3, "steps_per_match": 4, "batch_size": 32},
                       review={"every": 3, "samples": 200})
        raw["compute"] = {"execution": mode}
        with float64():
            runs[mode] = _tournament(raw)
    a, b = runs["one-by-one"], runs["auto"]
    assert_same_agents(a.arena, b.arena)
    assert a.rounds == b.rounds == 3 * 4 * 3
    for t, share in ((a, 0.0), (b, 1.0)):
        with float64():
            outcomes = t.runner.play(t.matches_of(0), t.active, 1)
        assert [o.batched for o in outcomes] == [share] * len(outcomes)
