"""agents/ema.py: the moving average equals a hand-computed one, BatchNorm statistics are
recomputed for the averaged weights, and the average is saved, resumed, stacked, copied by
selection and shown by evaluation, sampling and the mixture."""

from __future__ import annotations

import pytest
import torch

import arena
from agents import AveragedGenerator, EMASpec, WeightAverage, draw_samples
from arena.config import parse_config
from arena.engine.arena import build_arena
from games.checker import tiny_pair
from tests.conftest import PATHS_ATOL, PATHS_RTOL, StopAt, tiny_raw, train_both_ways


def step(g, scale: float = 1.0) -> None:
    g.zero_grad()
    (g.sample(16).square().mean() * scale).backward()
    g.step()


def test_the_average_equals_a_hand_computed_one():
    g, _ = tiny_pair()
    g.use_ema(EMASpec(decay=0.9, start=1), seed=0)
    w = []
    for _ in range(4):
        step(g)
        w.append([p.detach().clone() for p in g.net.parameters()])
    # step 1 (<= start): a copy; then avg <- 0.9 avg + 0.1 w
    expected = [x.clone() for x in w[0]]
    for later in w[1:]:
        expected = [0.9 * e + 0.1 * x for e, x in zip(expected, later)]
    for avg, e in zip(g.ema.net.parameters(), expected):
        torch.testing.assert_close(avg, e, rtol=1e-6, atol=1e-7)
    assert not any(p.requires_grad for p in g.ema.net.parameters())


def test_batchnorm_statistics_are_recomputed_for_the_averaged_weights():
    g, _ = tiny_pair()  # Linear -> BatchNorm -> ReLU -> Linear
    g.use_ema(EMASpec(decay=0.5, start=0, batchnorm_batches=4, batchnorm_batch_size=64), seed=3)
    for _ in range(5):
        step(g)
    assert g.ema.stale
    shown = g.output()
    assert isinstance(shown, AveragedGenerator) and not g.ema.stale
    bn = next(m for m in g.ema.net.modules() if isinstance(m, torch.nn.BatchNorm1d))
    first = next(m for m in g.ema.net.modules() if isinstance(m, torch.nn.Linear))
    rng = torch.Generator().manual_seed(3)
    with torch.no_grad():
        pre = [first(g.latent.sample(64, rng, "cpu")) for _ in range(4)]
    torch.testing.assert_close(bn.running_mean, torch.stack([x.mean(0) for x in pre]).mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(bn.running_var, torch.stack([x.var(0, unbiased=True) for x in pre]).mean(0), rtol=1e-5, atol=1e-6)
    assert bn.momentum == 0.1, "the layer's momentum is restored"
    raw_bn = next(m for m in g.net.modules() if isinstance(m, torch.nn.BatchNorm1d))
    assert not torch.equal(raw_bn.running_mean, bn.running_mean), "the trained network keeps its own statistics"
    x = shown.sample(10, torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = g.ema.net.eval()(g.latent.sample(10, torch.Generator().manual_seed(1), "cpu"))
    assert torch.equal(x, expected)


def ema_raw(**changes) -> dict:
    raw = tiny_raw(schedule={"matchings": 4, "steps_per_match": 10}, checkpoint={"every": 2}, **changes)
    raw["agents"][0]["ema"] = {"decay": 0.9, "start": 5}
    return raw


def test_evaluation_sampling_and_the_mixture_use_the_average_and_raw_weights_stay_available(tmp_path):
    run = arena.run(parse_config(ema_raw()), out=tmp_path / "run")
    g = run.arena.generators[0]
    shown = run.sample(200, seed=4)
    assert torch.equal(shown, draw_samples(g.output(), 200, 4, batch=200))
    raw = run.sample(200, seed=4, raw=True)
    assert not torch.equal(shown, raw) and torch.equal(raw, draw_samples(g, 200, 4, batch=200))
    mixture = run.generator("mixture")
    assert [type(c) for c in mixture.components] == [AveragedGenerator], "the mixture is of averaged generators"
    assert [type(c) for c in run.generator("mixture", raw=True).components] == [type(g)]
    loaded = arena.load(tmp_path / "run")
    assert torch.equal(loaded.sample(200, seed=4), shown), "the average is checkpointed"
    # the evaluation records were measured on the average
    from tests.conftest import records

    last = [r for r in records(tmp_path / "run") if r["kind"] == "eval" and r["agent"] == "g"][-1]
    from arena.evaluation.measure import sample_metrics

    assert last["high_quality"] == pytest.approx(sample_metrics(run.arena.data, draw_samples(
        g.output(), 200, arena.core.seeding.derive_seed(0, "eval", "g", "4")))["high_quality"])


def test_the_average_survives_a_resume(tmp_path):
    full = arena.run(parse_config(ema_raw()), out=tmp_path / "full")

    arena.run(parse_config(ema_raw()), out=tmp_path / "cut", callbacks=[StopAt(2)])
    resumed = arena.resume(tmp_path / "cut")
    a, b = full.arena.generators[0].ema.net.state_dict(), resumed.arena.generators[0].ema.net.state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_stacked_agents_average_like_agents_alone():
    """Two matchings of 3-round matches, stacked and one by one, agree to float rounding, as the
    raw weights do (tests/arena/engine/test_batched.py)."""
    g, d = ema_raw()["agents"]
    mlp = {"type": "mlp", "hidden": [32, 32]}
    raw = ema_raw(agents=[{**g, "count": 2, "net": mlp, "ema": {"decay": 0.9, "start": 2}}, {**d, "count": 2, "net": mlp}])
    raw["schedule"].update(matchings=2, steps_per_match=3)
    results = train_both_ways(raw)
    for a, b in zip(results[0].arena.generators, results[1].arena.generators):
        for pa, pb in zip(a.ema.net.parameters(), b.ema.net.parameters()):
            torch.testing.assert_close(pa, pb, atol=PATHS_ATOL, rtol=PATHS_RTOL)
    assert results[1].arena.generators[0].ema is not None


def test_selection_copies_the_average():
    from arena.tournament.selection import copy_agent

    a = build_arena(parse_config(ema_raw(agents=[{**ema_raw()["agents"][0], "count": 2}, tiny_raw()["agents"][1]])))
    parent, child = a.generators
    step(parent)
    step(parent)
    copy_agent(child, parent)
    for x, y in zip(child.ema.net.parameters(), parent.ema.net.parameters()):
        assert torch.equal(x, y)
    step(parent)
    assert any(not torch.equal(x, y) for x, y in zip(child.ema.net.parameters(), parent.ema.net.parameters())), \
        "the copy's average is its own"


def test_only_generators_average():
    raw = tiny_raw()
    raw["agents"][1]["ema"] = {"decay": 0.9}
    with pytest.raises(arena.ConfigError, match="agents\\[1\\].ema: only generators average their weights"):
        parse_config(raw)
    assert isinstance(WeightAverage(torch.nn.Linear(2, 2), EMASpec(), 0).net, torch.nn.Linear)
