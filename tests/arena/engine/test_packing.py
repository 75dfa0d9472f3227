"""PacGAN's packing (``agents[i].pack: m``): the discriminator judges packs of m samples of one
source, in pairs, in tournaments, stacked, in cross-play; refused where it cannot apply."""

from __future__ import annotations

import re

import pytest
import torch

import arena
from agents.agent import pack_samples
from arena.config import load_config, parse_config
from arena.core.errors import ConfigError
from arena.engine.arena import build_arena
from arena.tournament.crossplay import payoff_matrix
from arena.tournament.loop import Tournament
from tests.conftest import PATHS_ATOL, PATHS_RTOL, ROOT, tiny_raw, train_both_ways


def packed_raw(m: int = 4, **changes) -> dict:
    raw = tiny_raw(schedule={"matchings": 2, "steps_per_match": 5, "batch_size": 32}, **changes)
    raw["agents"][1]["pack"] = m
    raw["agents"][1]["net"] = {"type": "mlp", "hidden": [32, 32]}
    return raw


def test_packs_concatenate_consecutive_samples_of_one_source():
    x = torch.arange(24.0).reshape(12, 2)
    p = pack_samples(x, 4)
    assert p.shape == (3, 8) and p[1].tolist() == list(range(8, 16))
    assert pack_samples(x[:11], 4).shape == (2, 8), "a partial pack is left out"
    images = torch.zeros(8, 1, 8, 8)
    assert pack_samples(images, 4).shape == (2, 4, 8, 8), "images pack along channels"


def test_a_packed_discriminator_sees_m_times_the_input_and_emits_a_logit_per_pack():
    a = build_arena(parse_config(packed_raw(4)))
    d = a.discriminators[0]
    first = next(m for m in d.net.modules() if isinstance(m, torch.nn.Linear))
    assert d.pack == 4 and first.in_features == 8
    assert d(a.data.train[:32]).shape == (8, 1)
    t = Tournament(a)
    t.run()
    assert t.completed == 2 and all(torch.isfinite(p).all() for p in d.net.parameters())


def test_packed_matches_stacked_equal_one_by_one():
    g, d = packed_raw(2)["agents"]
    raw = packed_raw(2, agents=[{**g, "count": 2, "net": {"type": "mlp", "hidden": [32, 32]}}, {**d, "count": 2}])
    raw["schedule"].update(matchings=1, steps_per_match=3)
    out = train_both_ways(raw)
    for a, b in zip(out[0].arena.agents.values(), out[1].arena.agents.values()):
        for pa, pb in zip(a.net.parameters(), b.net.parameters()):
            torch.testing.assert_close(pa, pb, atol=PATHS_ATOL, rtol=PATHS_RTOL)


def test_cross_play_judges_whole_packs_stacked_or_not():
    g, d = packed_raw(4)["agents"]
    a = build_arena(parse_config(packed_raw(4, agents=[{**g, "count": 2}, {**d, "count": 2}])))
    gen = torch.Generator().manual_seed(0)
    samples = {x.name: x.sample(102, gen).detach() for x in a.generators}  # 102: 25 whole packs
    real = a.data.test[:102]
    stacked = payoff_matrix(a.generators, a.discriminators, samples, real, a.game_for, stack=True)
    alone = payoff_matrix(a.generators, a.discriminators, samples, real, a.game_for, stack=False)
    assert [c for r in stacked for c in r] == pytest.approx([c for r in alone for c in r])
    d0 = a.discriminators[0].eval()
    with torch.no_grad():
        expected = float(a.game.score(d0(real[:100]), d0(samples["g0"][:100])))
    assert alone[0][0] == pytest.approx(expected)


@pytest.mark.parametrize("change, message", [
    ({"game": {"id": "madgan-v0"}}, "madgan-v0 judges single samples; packing (pack: 4) needs a pair game"),
    ({"schedule": {"matchings": 2, "steps_per_match": 5, "batch_size": 30}}, "batch size 30 does not split into packs of 4"),
])
def test_packing_is_refused_where_it_cannot_apply(change, message):
    raw = packed_raw(4)
    raw.update(change)
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_arena(parse_config(raw))
    bad = tiny_raw()
    bad["agents"][0]["pack"] = 2
    with pytest.raises(ConfigError, match=r"agents\[0\].pack: only discriminators pack their inputs"):
        parse_config(bad)


def test_the_pacgan4_config_builds_and_plays(tmp_path):
    config = load_config(ROOT / "configs" / "pacgan4_ring8.yaml",
                         ["device=cpu", "schedule.matchings=1", "schedule.steps_per_match=3", "data.train_size=2000",
                          "log.report=false", "review.pictures=false"])
    d = build_arena(config).discriminators[0]
    assert d.pack == 4 and next(m for m in d.net.modules() if hasattr(m, "in_features")).in_features == 8
    run = arena.run(config, out=tmp_path / "run")
    assert run.finished
