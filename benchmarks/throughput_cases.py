"""What benchmarks/throughput.py times: the arena's cases (a pair, round-robins, PacGAN's Stacked
MNIST agents, GMAN's team, cross-play) and the hand-written PyTorch loops they are compared with,
each built as a function of n repetitions; and the operations a case dispatches."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arena.config import load_config, parse_config
from arena.core.seeding import seed_global
from arena.engine.arena import build_arena
from arena.tournament.loop import Tournament

ROOT = Path(__file__).resolve().parents[1]
SMALL_MLP = {"type": "mlp", "hidden": [64, 64], "act": "leaky_relu"}
SHIPPED_G = {"type": "mlp", "hidden": [128, 128, 128], "norm": "batch", "act": "relu"}  # the shipped tournaments' agents
SHIPPED_D = {"type": "maxout-mlp", "units": [128, 128], "pieces": 5}
STACKING_SIZES = [  # row e: where stacking stops paying on a CPU (compute.execution: auto)
    ("MLP 64x64", SMALL_MLP, SMALL_MLP, 64),
    ("shipped tournament agents", SHIPPED_G, SHIPPED_D, 100),
    ("MLP 256x256", {"type": "mlp", "hidden": [256, 256]}, {"type": "mlp", "hidden": [256, 256]}, 100),
    ("MLP 512x512", {"type": "mlp", "hidden": [512, 512]}, {"type": "mlp", "hidden": [512, 512]}, 256),
    ("MLP 1024x1024", {"type": "mlp", "hidden": [1024, 1024]}, {"type": "mlp", "hidden": [1024, 1024]}, 100),
]


def plain_pytorch_gan(device: torch.device, data: torch.Tensor, batch: int) -> Callable[[int], None]:
    """The PyTorch-GAN reference model and optimizer, written out by hand (REFERENCE.md)."""

    def block(i, o, norm=True):
        layers = [nn.Linear(i, o)]
        if norm:
            layers.append(nn.BatchNorm1d(o, 0.8))
        layers.append(nn.LeakyReLU(0.2))
        return layers

    g = nn.Sequential(*block(100, 128, norm=False), *block(128, 256), *block(256, 512), *block(512, 1024),
                      nn.Linear(1024, 784), nn.Tanh()).to(device)
    d = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2),
                      nn.Linear(256, 1)).to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    flat = data.reshape(data.shape[0], -1)
    perm, pos = torch.randperm(flat.shape[0], device=device), 0

    def rounds(n: int) -> None:
        nonlocal perm, pos
        for _ in range(n):
            if pos + batch > perm.numel():
                perm, pos = torch.randperm(flat.shape[0], device=device), 0
            real = flat[perm[pos : pos + batch]]
            pos += batch
            plain_round(g, d, opt_g, opt_d, real, 100)

    return rounds


def plain_round(g: nn.Module, d: nn.Module, opt_g, opt_d, real: torch.Tensor, latent: int) -> None:
    """One round of the hand-written loops: a discriminator step on ``real`` and fresh fakes, then
    a generator step (non-saturating loss) with the discriminator's weights frozen."""
    batch, device = real.shape[0], real.device
    with torch.no_grad():
        fake = g(torch.randn(batch, latent, device=device))
    opt_d.zero_grad(set_to_none=True)
    loss_d = F.softplus(-d(real)).mean() + F.softplus(d(fake)).mean()
    loss_d.backward()
    opt_d.step()
    for p in d.parameters():
        p.requires_grad_(False)
    opt_g.zero_grad(set_to_none=True)
    loss_g = F.softplus(-d(g(torch.randn(batch, latent, device=device)))).mean()
    loss_g.backward()
    opt_g.step()
    for p in d.parameters():
        p.requires_grad_(True)


def plain_stacked_pair(device: torch.device, digits: torch.Tensor, batch: int) -> Callable[[int], None]:
    """PacGAN's Stacked MNIST pair written out by hand (REFERENCE.md), drawing fresh triples of
    digits every batch, as configs/stacked_mnist.yaml plays it."""
    def bn(n):
        return nn.BatchNorm2d(n)

    g = nn.Sequential(nn.Linear(256, 64 * 16, bias=False), nn.BatchNorm1d(64 * 16), nn.ReLU(), nn.Unflatten(1, (64, 4, 4)),
                      nn.ConvTranspose2d(64, 32, 3, 2, 1, bias=False), bn(32), nn.ReLU(),
                      nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1, bias=False), bn(16), nn.ReLU(),
                      nn.ConvTranspose2d(16, 8, 3, 2, 1, output_padding=1, bias=False), bn(8), nn.ReLU(),
                      nn.Conv2d(8, 3, 3, 1, 1), nn.Tanh()).to(device)
    d = nn.Sequential(nn.Conv2d(3, 2, 3, 2, 1, bias=False), bn(2), nn.LeakyReLU(0.3),
                      nn.Conv2d(2, 4, 3, 2, 1, bias=False), bn(4), nn.LeakyReLU(0.3),
                      nn.Conv2d(4, 8, 3, 2, 1, bias=False), bn(8), nn.LeakyReLU(0.3),
                      nn.Flatten(), nn.Linear(8 * 16, 1)).to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.99))
    digits = digits.to(device)

    def rounds(n: int) -> None:
        for _ in range(n):
            index = torch.randint(digits.shape[0], (batch * 3,), device=device)
            real = digits[index].reshape(batch, 3, 28, 28)
            plain_round(g, d, opt_g, opt_d, real, 256)

    return rounds


EAGER = ["compute.compile=false", "compute.cuda_graphs=false"]
"""What every row's plain ("eager") case sets, since the defaults (``auto``) compile where they
pay; a row's own options come after, and ``DEFAULTS`` restores the defaults."""
DEFAULTS = "compute.compile=auto compute.cuda_graphs=auto"
"""The compute options as a config that sets none has them: the path ``auto`` picks."""


def shown(options: str) -> str:
    """A row's options as its label says them."""
    return "defaults: auto" if options == DEFAULTS else options


def stacked_case(which: str, device: str, count: int = 1, mode: str = "auto",
                 compute: str = "") -> tuple[Callable[[int], None], torch.device, int]:
    """``arena`` or ``plain``: a function playing n matchings (count x count agents of
    configs/stacked_mnist.yaml, 20 rounds a match, ``mode`` batched or one by one), the device and
    the pair-rounds per matching; ``plain``: the hand-written loop, n x 20 rounds."""
    steps = 20
    overrides = [f"device={device}", f"agents.0.count={count}", f"agents.1.count={count}", f"compute.execution={mode}",
                 f"schedule.steps_per_match={steps}", "data.train_size=256", *EAGER, *compute.split()]
    config = load_config(ROOT / "configs/stacked_mnist.yaml", overrides)
    arena = build_arena(config)
    seed_global(config.seed)
    if which == "plain":
        plain = plain_stacked_pair(arena.device, arena.data.kind.digits().train, config.schedule.batch_size)
        return (lambda n: plain(n * steps)), arena.device, steps
    t = Tournament(arena)
    return playing(t, steps), arena.device, count * steps


def team_case(mode: str, device: str, discriminators: int) -> tuple[Callable[[int], None], torch.device, int]:
    """A function playing n matchings of configs/stacked_mnist_gman.yaml (one generator against
    ``discriminators`` discriminators at once, 20 rounds a matching, the discriminators stacked
    or ``one-by-one``), the device and the rounds per matching."""
    steps = 20
    overrides = [f"device={device}", f"agents.1.count={discriminators}", f"compute.execution={mode}",
                 f"schedule.steps_per_match={steps}", "data.train_size=256", *EAGER]
    config = load_config(ROOT / "configs/stacked_mnist_gman.yaml", overrides)
    seed_global(config.seed)
    t = Tournament(build_arena(config))
    return playing(t, steps), t.arena.device, steps


def pair_case(batch: int, device: str, which: str, compute: str = "") -> tuple[Callable[[int], None], torch.device]:
    """``arena`` or ``plain``: a function playing n rounds of the PyTorch-GAN pair. The arena's
    rounds are played as a run plays them, by its tournament's match runner (one match of n
    rounds: stacked on a GPU, one by one on a CPU at this size), with the compute options that
    ``compute`` sets as overrides (``compute.compile=true``)."""
    overrides = [f"schedule.batch_size={batch}", f"device={device}", *EAGER, *compute.split()]
    config = load_config(ROOT / "configs/pytorch_gan.yaml", overrides)
    if which == "plain":
        arena = build_arena(config)
        seed_global(config.seed)
        return plain_pytorch_gan(arena.device, arena.data.train, batch), arena.device
    seed_global(config.seed)
    t = Tournament(build_arena(config))
    k = 0

    def rounds(n: int) -> None:
        nonlocal k
        t.runner.play(t.matches_of(k), t.active, n)
        k += 1

    return rounds, t.arena.device


def round_robin(mode: str, device: str, steps: int = 20, compute: str = "", count: int = 8,
                g_net: dict | None = None, d_net: dict | None = None, batch: int = 64) -> Tournament:
    """A ``count`` x ``count`` round-robin on ring8 (default: 8 x 8 small MLPs, batch 64) whose
    matchings are played ``mode`` (batched or one-by-one) by the tournament's own runner."""
    raw = {
        "name": "throughput", "seed": 0, "device": device,
        "data": {"source": "ring8", "train_size": 20000, "test_size": 500},
        "game": {"id": "gan-v0"},
        "agents": [
            {"name": "g", "role": "generator", "count": count, "latent": {"dist": "normal", "dim": 2},
             "net": g_net or SMALL_MLP, "optim": {"type": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}},
            {"name": "d", "role": "discriminator", "count": count, "net": d_net or SMALL_MLP,
             "optim": {"type": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}},
        ],
        "schedule": {"type": "round-robin", "matchings": 10**6, "steps_per_match": steps, "batch_size": batch},
        "compute": {"execution": mode},
    }
    for option in [*EAGER, *compute.split()]:  # compute.cuda_graphs=true
        key, value = option.removeprefix("compute.").split("=", 1)
        raw["compute"][key] = yaml.safe_load(value)
    return Tournament(build_arena(parse_config(raw)))


def tournament_case(mode: str, device: str, steps: int = 20, compute: str = "", **pool) -> tuple[Callable[[int], None], torch.device, int]:
    """A function playing n matchings of :func:`round_robin` (``pool``: its count, networks and
    batch), the device and the pair-rounds per matching."""
    t = round_robin(mode, device, steps, compute, **pool)
    return playing(t, steps), t.arena.device, len(t.arena.generators) * steps


def playing(t: Tournament, steps: int) -> Callable[[int], None]:
    """A function playing the tournament's next n matchings, ``steps`` rounds each."""
    k = 0

    def matchings(n: int) -> None:
        nonlocal k
        for _ in range(n):
            t.runner.play(t.matches_of(k), t.active, steps)
            k += 1

    return matchings


def crossplay_case(device: str, samples: int = 2500) -> tuple[Callable[[int], None], Callable[[int], None], torch.device]:
    """An 8 x 8 cross-evaluation at ``samples`` samples with the ring8 tournament's agents:
    the arena's payoff matrix (stacked discriminators) and a loop over the discriminators,
    each a function of n evaluations (sampling included)."""
    from agents import draw_samples
    from arena.tournament.crossplay import payoff_matrix

    config = load_config(ROOT / "configs/tournament_ring8.yaml", ["agents.0.count=8", "agents.1.count=8", f"device={device}"])
    arena = build_arena(config)
    real = arena.data.test[:samples]

    def stacked(n: int) -> None:
        for _ in range(n):
            drawn = {g.name: draw_samples(g, samples, 0) for g in arena.generators}
            payoff_matrix(arena.generators, arena.discriminators, drawn, real, arena.game_for, stack=True)

    def looped(n: int) -> None:
        for _ in range(n):
            drawn = [draw_samples(g, samples, 0) for g in arena.generators]
            for d in arena.discriminators:
                d.eval()
                with torch.no_grad():
                    r = d(real)
                    [arena.game.score(r, d(x)) for x in drawn]
                d.train()

    return stacked, looped, arena.device


VIEW_OPS = {"view", "t", "detach", "detach_", "transpose", "expand", "slice", "select", "unsqueeze", "squeeze",
            "_unsafe_view", "alias", "as_strided", "permute", "split", "split_with_sizes", "unbind", "reshape",
            "_reshape_alias", "lift_fresh", "empty", "empty_strided", "resolve_conj", "resolve_neg",
            "requires_grad_"}
"""Operations that launch no kernel on a GPU (views, metadata, allocation)."""


def dispatched(fn: Callable[[int], None], pair_rounds: int) -> tuple[float, float]:
    """Operations per pair-round that one call ``fn(1)`` dispatches outside compiled graphs, as
    the profiler records them (top-level ``aten::`` events only): those that launch a kernel on a
    GPU, and views."""
    from torch.profiler import ProfilerActivity, profile

    fn(1)  # warm-up: compiled graphs are built before counting
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn(1)
    kernels = views = 0
    for event in prof.events():
        if not event.name.startswith("aten::"):
            continue
        parent, top = event.cpu_parent, True
        while parent is not None and top:
            top = not (parent.name.startswith("aten::") or "Compiled" in parent.name)
            parent = parent.cpu_parent
        if top:
            if event.name.removeprefix("aten::") in VIEW_OPS:
                views += 1
            else:
                kernels += 1
    return kernels / pair_rounds, views / pair_rounds


CASES = {
    "pair-arena": lambda device, batch: pair_case(batch, device, "arena")[0],
    "pair-plain": lambda device, batch: pair_case(batch, device, "plain")[0],
    "tournament-batched": lambda device, batch: tournament_case("batched", device)[0],
    "tournament-one-by-one": lambda device, batch: tournament_case("one-by-one", device)[0],
}

