"""arena/batched.py and arena/execution.py: stacked matches equal matches played one by one."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from arena.config import parse_config
from arena.core.seeding import seed_global
from arena.engine.arena import build_arena
from arena.engine.batched import Kernels, gather, play_batched, signature
from arena.engine.match import play_match
from arena.tournament.loop import Tournament
from tests.conftest import (
    PATHS_ATOL,
    PATHS_RTOL,
    float64,
    tiny_pool,
    tiny_tournament,
)

MLP = {"type": "mlp", "hidden": [16, 16], "act": "leaky_relu"}
BN_MLP = {"type": "mlp", "hidden": [16, 16], "norm": "batch"}


def pool_raw(n: int = 3, g_net=MLP, d_net=MLP, g_optim=None, d_optim=None, **changes) -> dict:
    raw = tiny_pool(n, n, **changes)
    g, d = raw["agents"]
    g["net"], d["net"] = dict(g_net), dict(d_net)
    g["optim"] = g_optim or g["optim"]
    d["optim"] = d_optim or d["optim"]
    return raw


def vary(arena) -> None:
    """Give the agents different histories and hyper-parameters: agent 0 has taken 2 steps
    already, every agent has its own learning rate (and betas, where it has them)."""
    play_match(arena.game, arena.generators[0], arena.discriminators[0], arena.stream.fork(99), 2)
    for k, agent in enumerate([*arena.generators, *arena.discriminators]):
        agent.optimizer.set_base_lr(agent.optimizer.base_lr * (1 + 0.5 * k))
        group = agent.optimizer_groups[0]
        if "betas" in group:
            group["betas"] = (group["betas"][0] + 0.05 * k, group["betas"][1])


def play_both(raw: dict, steps: int, **kernel_options):
    """The same matches (g_k against d_k), one by one in one arena and stacked in its twin (by
    kernels built with ``kernel_options``)."""
    with float64():
        one, stacked = (build_arena(parse_config(copy.deepcopy(raw))) for _ in range(2))
        for arena in (one, stacked):
            seed_global(arena.config.seed)
            vary(arena)
        k = len(one.generators)
        stats_one = [play_match(one.game, one.generators[i], one.discriminators[i], one.stream.fork(i * steps), steps)
                     for i in range(k)]
        kernels = Kernels(stacked.game, stacked.generators[0], stacked.discriminators[0], **kernel_options)
        streams = [stacked.stream.fork(i * steps) for i in range(k)]
        stats_stacked = play_batched(kernels, stacked.generators, stacked.discriminators, streams, steps)
    return one, stacked, stats_one, stats_stacked


def assert_same_agents(a_arena, b_arena, atol: float = PATHS_ATOL, rtol: float = PATHS_RTOL) -> None:
    """Weights, weight averages, optimizer states and latent streams of every agent alike (within
    float64's :data:`tests.conftest.PATHS_ATOL` and ``PATHS_RTOL` by default)."""
    for a, b in zip([*a_arena.generators, *a_arena.discriminators], [*b_arena.generators, *b_arena.discriminators]):
        assert a.steps == b.steps and a.optimizer.lr == b.optimizer.lr, a.name
        for (key, x), y in zip(a.net.state_dict().items(), b.net.state_dict().values()):
            torch.testing.assert_close(x, y, atol=atol, rtol=rtol, msg=f"{a.name} {key}")
        assert (getattr(a, "ema", None) is None) == (getattr(b, "ema", None) is None), a.name
        if getattr(a, "ema", None) is not None:  # a generator's weight average
            for (key, x), y in zip(a.ema.net.state_dict().items(), b.ema.net.state_dict().values()):
                torch.testing.assert_close(x, y, atol=atol, rtol=rtol, msg=f"{a.name} EMA {key}")
        sa, sb = a.optimizer.optimizer.state_dict()["state"], b.optimizer.optimizer.state_dict()["state"]
        assert sa.keys() == sb.keys(), a.name
        for i in sa:
            assert sa[i].keys() == sb[i].keys(), (a.name, i)
            for key in sa[i]:
                torch.testing.assert_close(sa[i][key], sb[i][key], atol=atol, rtol=rtol, msg=f"{a.name} {i} {key}")
        assert torch.equal(a.rng.get_state(), b.rng.get_state()), f"{a.name} drew other latents"


@pytest.mark.parametrize(
    ("g_optim", "d_optim", "net"),
    [
        ({"type": "adam", "lr": 1e-3, "betas": [0.5, 0.999]}, {"type": "adam", "lr": 2e-3, "weight_decay": 1e-2}, MLP),
        ({"type": "sgd", "lr": 0.05, "momentum": 0.5, "nesterov": True},
         {"type": "sgd", "lr": 0.05, "momentum": 0.0, "momentum_ramp": {"end": 0.7, "steps": 4}}, BN_MLP),
        ({"type": "sgd", "lr": 0.05}, {"type": "sgd", "lr": 0.02, "weight_decay": 1e-3}, BN_MLP),
        ({"type": "rmsprop", "lr": 1e-3}, {"type": "rmsprop", "lr": 1e-3, "momentum": 0.5}, MLP),
    ],
    ids=["adam", "sgd-momentum-bn", "sgd-bn", "rmsprop"],
)
def test_stacked_matches_equal_matches_one_by_one(g_optim, d_optim, net):
    raw = pool_raw(3, net, net, g_optim, d_optim)
    one, stacked, stats_one, stats_stacked = play_both(raw, steps=4)
    assert_same_agents(one, stacked)
    assert_same_stats(stats_one, stats_stacked)


def assert_same_stats(stats_one, stats_stacked) -> None:
    """The round statistics alike: both paths reduce them to float32 from float64 values equal
    within PATHS_RTOL, and sum a few rounds in float32, so they stay a few float32 ulps apart
    (1.2e-7 each): rel 1e-6."""
    for a, b in zip(stats_one, stats_stacked):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-7), key


class Counted:
    """A function that counts its calls."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


FUSED_CASES = [
    ({"type": "adam", "lr": 1e-3, "betas": [0.5, 0.999]}, {"type": "adam", "lr": 2e-3}, MLP),
    ({"type": "sgd", "lr": 0.05, "momentum": 0.5, "nesterov": True},
     {"type": "sgd", "lr": 0.05, "momentum": 0.0, "momentum_ramp": {"end": 0.7, "steps": 4}}, BN_MLP),
    ({"type": "rmsprop", "lr": 1e-3}, {"type": "rmsprop", "lr": 1e-3, "momentum": 0.5}, MLP),
]


def fused_kernels(compile_fn=None, **options):
    """Kernel options for a fused round, counted (and compiled by ``compile_fn``)."""
    made = {}

    def compiled(fn, what, eager=None):
        if what != "the stacked round":
            return fn
        made["fused"] = Counted(compile_fn(fn) if compile_fn else fn)
        return made["fused"]

    return {"compiled": compiled, "fused": True, **options}, made


@pytest.mark.parametrize(("g_optim", "d_optim", "net"), FUSED_CASES, ids=["adam", "sgd-momentum-bn", "rmsprop"])
def test_the_fused_round_equals_matches_one_by_one(g_optim, d_optim, net):
    """The whole round as one function (gradients by torch.func, what compute.compile compiles):
    weights, BatchNorm statistics, optimizer states, step counts, latent streams and statistics
    as one by one, with every agent's own learning rate, betas, momentum ramp and history."""
    options, made = fused_kernels()
    one, stacked, stats_one, stats_stacked = play_both(pool_raw(3, net, net, g_optim, d_optim), steps=4, **options)
    assert made["fused"].calls == 4
    assert_same_agents(one, stacked)
    assert_same_stats(stats_one, stats_stacked)


@pytest.mark.parametrize("variant", ["two discriminator updates a round", "packed discriminators", "mode seeking"])
def test_the_fused_round_plays_several_discriminator_updates_and_packs(variant):
    raw = pool_raw(3, MLP, MLP, *FUSED_CASES[0][:2])
    if variant == "packed discriminators":
        raw["agents"][1]["pack"] = 4
    elif variant == "mode seeking":  # the generator's loss reads its samples too
        raw["game"] = {"id": "gan-v0", "mode_seeking": 0.5}
    else:
        raw["game"] = {"id": "gan-v0", "d_steps": 2}
    options, made = fused_kernels()
    one, stacked, stats_one, stats_stacked = play_both(raw, steps=4, **options)
    assert made["fused"].calls == 4
    assert_same_agents(one, stacked)
    assert_same_stats(stats_one, stats_stacked)


def test_agents_with_weight_decay_keep_the_update_functions():
    """Inductor's CPU code generator fails on the fused round with weight decay (torch 2.13), so
    those agents are played by the two update functions, and still equal one by one."""
    options, made = fused_kernels()
    raw = pool_raw(2, MLP, MLP, {"type": "adam", "lr": 1e-3}, {"type": "adam", "lr": 2e-3, "weight_decay": 1e-2})
    one, stacked, stats_one, stats_stacked = play_both(raw, steps=3, **options)
    assert made["fused"].calls == 0
    assert_same_agents(one, stacked)
    assert_same_stats(stats_one, stats_stacked)


@pytest.mark.parametrize("static", [False, True], ids=["compile", "static-addresses"])
def test_the_compiled_fused_round_equals_matches_one_by_one(static):
    """torch.compile of the fused round on this CPU (about 10 s each): one graph, no fallback, the
    same numbers within float rounding; with its tensors marked as static addresses, as for
    CUDA graphs, and kept from one match to the next."""
    options, made = fused_kernels(lambda fn: torch.compile(fn, dynamic=False, fullgraph=True), static=static)
    raw = pool_raw(3, MLP, MLP, *FUSED_CASES[0][:2])
    one, stacked, stats_one, stats_stacked = play_both(raw, steps=4, **options)
    assert made["fused"].calls == 4
    assert_same_agents(one, stacked)
    assert_same_stats(stats_one, stats_stacked)


def test_the_batches_of_forked_streams_are_gathered_as_drawn():
    arena = build_arena(parse_config(pool_raw(3)))
    forks = [arena.stream.fork(k * 7) for k in range(3)]
    twins = [arena.stream.fork(k * 7) for k in range(3)]
    for _ in range(400):  # past the end of an epoch: new permutations on the way
        assert torch.equal(gather(forks), torch.stack([t() for t in twins]))


def test_with_compile_on_a_single_match_plays_the_fused_round(monkeypatch):
    """compute.compile: a match alone in its group is stacked too (one compiled round, not
    compiled networks called by eager code), and still plays as one by one."""
    monkeypatch.setattr(torch, "compile", lambda fn, **options: fn)  # the fused round itself, uncompiled
    raw = pool_raw(1, MLP, MLP, *FUSED_CASES[0][:2], schedule={"matchings": 2, "steps_per_match": 3, "batch_size": 16})
    runs = {}
    for name, compute in (("fused", {"compile": True}), ("one", {"execution": "one-by-one"})):
        with float64():
            runs[name] = Tournament(build_arena(parse_config({**copy.deepcopy(raw), "compute": compute})))
            runs[name].run()
    (kernels,) = runs["fused"].runner.kernels.values()
    assert kernels.fused is not None and kernels._slots, "the fused round did not play"
    assert_same_agents(runs["one"].arena, runs["fused"].arena)


def test_batchnorm_buffers_move_in_the_stack_as_they_do_alone():
    raw = pool_raw(2, BN_MLP, BN_MLP, {"type": "sgd", "lr": 0.05}, {"type": "sgd", "lr": 0.05})
    one, stacked, _, _ = play_both(raw, steps=3)
    before = build_arena(parse_config(raw)).generators[1].net.state_dict()
    after = stacked.generators[1].net.state_dict()
    moved = [k for k in before if "running" in k and not torch.equal(before[k], after[k])]
    assert moved, "running statistics were not updated"
    assert int(after[next(k for k in after if k.endswith("num_batches_tracked"))]) == 6  # 3 rounds x 2 forward passes
    assert_same_agents(one, stacked)


def test_dropout_draws_differently_for_every_stacked_agent():
    """Two identical agents stacked: with dropout (randomness='different') they part after one
    round; without it they stay equal."""
    for dropout, parted in ((0.5, True), (0.0, False)):
        net = {**MLP, "dropout": dropout}
        arena = build_arena(parse_config(pool_raw(2, net, net)))
        for pool in (arena.generators, arena.discriminators):
            pool[1].net.load_state_dict(pool[0].net.state_dict())
            pool[1].rng.set_state(pool[0].rng.get_state())
        kernels = Kernels(arena.game, arena.generators[0], arena.discriminators[0])
        stream = arena.stream.fork(0)
        play_batched(kernels, arena.generators, arena.discriminators, [stream, stream.fork(0)], 1)
        d0, d1 = (d.net.state_dict() for d in arena.discriminators)
        assert any(not torch.equal(d0[k], d1[k]) for k in d0) == parted, dropout


def test_signatures_tell_which_agents_stack():
    raw = pool_raw(2)
    other = copy.deepcopy(raw["agents"][0])
    other.update(name="h", count=1, net={"type": "mlp", "hidden": [8], "act": "leaky_relu"})
    raw["agents"].append(other)
    arena = build_arena(parse_config(raw))
    g0, g1, h0 = arena.generators
    assert signature(g0) == signature(g1) != signature(h0)
    assert signature(g0) != signature(arena.discriminators[0])


def _tournament(raw: dict) -> Tournament:
    t = Tournament(build_arena(parse_config(raw)))
    t.run()
    return t


def test_a_tournament_played_batched_equals_one_played_one_by_one():
    schedule = {"matchings": 4, "steps_per_match": 3, "batch_size": 32}
    runs = {}
    for mode in ("one-by-one", "batched"):
        raw = pool_raw(3, MLP, MLP, schedule=schedule, review={"every": 4, "samples": 200})
        raw["compute"] = {"execution": mode}
        with float64():
            runs[mode] = _tournament(raw)
    a, b = runs["one-by-one"], runs["batched"]
    assert_same_agents(a.arena, b.arena)
    assert a.rounds == b.rounds == 4 * 3 * 3
    # the payoffs count judged samples: a count moves only if a logit lies within 1e-12 of the threshold
    assert [t.standings.results[-1]["payoff"] for t in (a, b)][0] == b.standings.results[-1]["payoff"]


def test_auto_stacks_small_networks_on_a_cpu_and_not_large_ones():
    from arena.engine.execution import MatchRunner

    def batched_share(g_net, mode="auto", game=None) -> float:
        raw = pool_raw(3, g_net, MLP, schedule={"matchings": 1, "steps_per_match": 1, "batch_size": 32})
        raw["compute"] = {"execution": mode}
        if game:
            raw["game"] = game
        t = Tournament(build_arena(parse_config(raw)))
        runner: MatchRunner = t.runner
        outcomes = runner.play(t.matches_of(0), t.active, 1)
        return sum(o.batched for o in outcomes) / len(outcomes)

    big = {"type": "mlp", "hidden": [2048, 2048]}  # 4.2 M parameters x 32 > the CPU limit
    assert batched_share(MLP) == 1.0
    assert batched_share(big) == 0.0
    assert batched_share(big, "batched") == 1.0
    assert batched_share(MLP, "one-by-one") == 0.0
    assert batched_share(MLP, "batched", {"id": "wgan-gp-v0"}) == 0.0  # a gradient penalty: not stackable


def test_stacked_forward_in_chunks_equals_each_network_alone():
    from arena.engine.batched import stacked_forward

    arena = build_arena(parse_config(tiny_tournament()))
    nets = [d.net.eval() for d in arena.discriminators]
    x = torch.randn(300, 2, generator=torch.Generator().manual_seed(1))
    out = stacked_forward(nets, x, chunk=64)
    with torch.no_grad():
        expected = torch.stack([net(x) for net in nets])
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)


STACKED_DATA = {"source": "stacked-mnist", "train_size": 256, "test_size": 256}
PACGAN_G = {"type": "dcgan", "widths": [64, 32, 16, 8], "kernel": 3, "out_conv": True}
PACGAN_D = {"type": "dcgan", "widths": [2, 4, 8], "kernel": 3, "norm_first": True, "act_slope": 0.3}
PACGAN_OPTIM = ({"type": "adam", "lr": 1e-4, "betas": [0.5, 0.99]}, {"type": "adam", "lr": 2e-4, "betas": [0.5, 0.99]})


@pytest.mark.parametrize("fused", [False, True], ids=["stacked", "fused"])
@pytest.mark.parametrize(("pack", "mode_seeking"), [(1, 0.0), (4, 0.0), (1, 1.0)], ids=["1", "4", "mode-seeking"])
def test_the_stacked_and_fused_rounds_of_pacgans_convolutional_agents_equal_one_by_one(fused, pack, mode_seeking):
    """PacGAN's Stacked MNIST pair (transposed convolutions, BatchNorm in both, the discriminator
    packed or not, the generator's loss with or without the pooled mode-seeking term), three
    matches at once: weights, BatchNorm statistics, optimizer states and statistics as one by one."""
    raw = pool_raw(3, PACGAN_G, PACGAN_D, *PACGAN_OPTIM, data=STACKED_DATA, schedule={"batch_size": 16})
    raw["agents"][0]["latent"] = {"dist": "normal", "dim": 256}
    raw["agents"][1]["pack"] = pack
    if mode_seeking:
        raw["game"] = {"id": "gan-v0", "mode_seeking": mode_seeking, "mode_seeking_pool": 4}
    options, made = fused_kernels() if fused else ({}, {})
    one, stacked, stats_one, stats_stacked = play_both(raw, steps=3, **options)
    if fused:
        assert made["fused"].calls == 3
    # In float32 the mode-seeking penalty's |G(z_i) - G(z_j)| (a kink at 0) made the two paths round
    # some background differences to opposite signs, and the AVX-512 kernels moved g1's moments
    # past any tolerance read off an AVX2 machine; in float64 they agree within 3e-12 on AVX2 and
    # on the default (no vector) kernels.
    assert_same_agents(one, stacked)
    assert_same_stats(stats_one, stats_stacked)


@pytest.mark.slow
def test_the_compiled_fused_round_of_pacgans_agents_equals_one_by_one():
    """What ``compute: auto`` now runs on a CPU for configs/stacked_mnist_population.yaml: the
    fused round of PacGAN's convolutional agents (BatchNorm, two discriminator updates a round,
    EMA) compiled by inductor, two pairs at batch 64, equal to one by one within float rounding
    (about 70 s with a cold compiler cache)."""
    raw = pool_raw(2, PACGAN_G, PACGAN_D, *PACGAN_OPTIM, data=STACKED_DATA, schedule={"batch_size": 64},
                   game={"id": "gan-v0", "d_steps": 2})
    raw["agents"][0]["latent"] = {"dist": "normal", "dim": 256}
    raw["agents"][0]["ema"] = {"decay": 0.9, "start": 2}
    options, made = fused_kernels(lambda fn: torch.compile(fn, dynamic=False, fullgraph=True))
    one, stacked, stats_one, stats_stacked = play_both(raw, steps=3, **options)
    assert made["fused"].calls == 3
    assert all(g.ema is not None for g in stacked.generators)
    assert_same_agents(one, stacked)  # the EMA weights too
    assert_same_stats(stats_one, stats_stacked)


def test_stacked_batchnorm_agents_play_under_mixed_precision():
    """bf16 autocast hands the stacked BatchNorm layers bf16 inputs beside float32 running
    statistics, which vmap's batch_norm refuses (seen on an H200); they run in float32, as
    autocast runs norms, and every agent keeps float32 statistics and weights."""
    raw = pool_raw(2, PACGAN_G, PACGAN_D, *PACGAN_OPTIM, data=STACKED_DATA, schedule={"batch_size": 16})
    raw["agents"][0]["latent"] = {"dist": "normal", "dim": 256}
    arena = build_arena(parse_config(raw))
    kernels = Kernels(arena.game, arena.generators[0], arena.discriminators[0])
    streams = [arena.stream.fork(i * 2) for i in range(2)]
    stats = play_batched(kernels, arena.generators, arena.discriminators, streams, 2,
                         lambda: torch.autocast("cpu", torch.bfloat16))
    assert all(math.isfinite(v) for s in stats for v in s.values())
    for agent in (*arena.generators, *arena.discriminators):
        assert all(t.dtype in (torch.float32, torch.int64) for t in agent.net.state_dict().values()), agent.name
