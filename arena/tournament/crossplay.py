"""Cross-play: every generator against every discriminator on held-out data.

The discriminators judge the held-out real data and all generators' samples concatenated, and
discriminators of one architecture do so together: their weights stacked (torch.func), one
``vmap``-ed forward pass for all of them. So an N x M evaluation costs one forward pass per
architecture, not N x M. The judgement belongs to the game of each pair (by default D's
balanced accuracy); the generator's score is 1 minus it. A judgement of the discriminator's
features (``manifold``) reads the input of its last layer instead, one discriminator at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from agents import Discriminator, Generator, evaluating
from agents.agent import pack_samples
from arena.core.errors import ArenaError
from arena.engine.batched import architecture, stacked_forward
from arena.tournament.judgements import judgement_against, judgement_for, on_features
from games import Game

__all__ = ["payoff_matrix", "payoff_period", "features", "discriminator_features"]


def payoff_matrix(
    generators: Sequence[Generator],
    discriminators: Sequence[Discriminator],
    samples: dict[str, torch.Tensor],
    real: torch.Tensor,
    game_for: Callable[[Generator, Discriminator], Game],
    active: Callable[[object], bool] = lambda agent: True,
    stack: bool | None = None,
    judgement: str = "game",
) -> list[list[float | None]]:
    """The N x M matrix of each discriminator's score against each generator.

    Args:
        generators, discriminators: the players.
        samples: each generator's samples, by name (drawn beforehand, in eval mode).
        real: held-out real data.
        game_for: the game a pair plays (its ``score`` and ``realness`` read D's outputs).
        active: players for which this returns False (retired ones) get ``None`` cells.
        stack: judge with the discriminators of one architecture stacked (one ``vmap``-ed pass),
            or one after another (one pass each). None: stacked on a GPU, where it saves kernel
            launches; one after another on a CPU, where each pass over all N x 2,500 samples is
            long enough that stacking gains nothing (benchmarks/throughput.py, row d).
        judgement: how the calls become a score (:mod:`arena.tournament.judgements`; ``game``: the game's own).
    """
    playing = [g for g in generators if active(g)]
    judges = [d for d in discriminators if active(d)]
    payoff: list[list[float | None]] = [[None] * len(discriminators) for _ in generators]
    if not playing or not judges:
        return payoff
    device = judges[0].device
    rows = {g.name: i for i, g in enumerate(generators)}
    cols = {d.name: j for j, d in enumerate(discriminators)}
    groups: dict[tuple, list[Discriminator]] = {}
    reads_features = on_features(judgement)
    if reads_features:
        stack = False  # features are read one network at a time
    elif stack is None:
        stack = device.type == "cuda"
    for d in judges:
        groups.setdefault((architecture(d.net), d.pack) if stack else d.name, []).append(d)
    for group in groups.values():
        m = group[0].pack  # a packed discriminator judges whole packs of one source: every part a multiple of m
        parts = [real, *(samples[g.name] for g in playing)]
        parts = [x[: (x.shape[0] // m) * m].to(device) for x in parts]
        sizes = [x.shape[0] // m for x in parts]
        inputs = torch.cat(parts)
        with evaluating(*group):
            if reads_features:
                outputs = features(group[0], inputs).unsqueeze(0)
            elif len(group) > 1:
                outputs = stacked_forward([d.net for d in group], pack_samples(inputs, m))
            else:
                with torch.no_grad():
                    outputs = group[0](inputs).unsqueeze(0)
        for d, out in zip(group, outputs):
            real_out, *fake_out = out.split(sizes)
            against = judgement_against(judgement, real_out) if reads_features else None  # the real side prepared once
            for g, fake in zip(playing, fake_out):
                score = against(fake) if against else judgement_for(judgement, game_for(g, d))(real_out, fake)
                payoff[rows[g.name]][cols[d.name]] = float(score)
    return payoff


def payoff_period(
    generators: Sequence[Generator],
    discriminators: Sequence[Discriminator],
    samples: dict[str, torch.Tensor],
    real: torch.Tensor,
    game_for: Callable[[Generator, Discriminator], Game],
    matching: int = 0,
    rounds: int = 0,
    identity: Callable[[object], str] = lambda agent: agent.name,
    active: Callable[[object], bool] = lambda agent: True,
    stack: bool | None = None,
    judgement: str = "game",
) -> dict:
    """One recorded period of results, as ratings read them (:mod:`arena.tournament.ratings`):
    ``matching``, ``rounds``, the players' ``identity`` (the name under which each is rated) and
    their :func:`payoff_matrix`. A tournament's review and a league across runs both record their
    cross-play this way."""
    payoff = payoff_matrix(generators, discriminators, samples, real, game_for, active, stack, judgement)
    return {
        "matching": matching,
        "rounds": rounds,
        "generators": [identity(g) for g in generators],
        "discriminators": [identity(d) for d in discriminators],
        "payoff": payoff,
    }


def discriminator_features(discriminators: Sequence[Discriminator]) -> Callable[[torch.Tensor], torch.Tensor]:
    """A map of samples to the features of every discriminator (:func:`features`, in evaluation
    mode), side by side, each discriminator's scaled to unit root mean square on the first data it
    maps (the held-out data, so that no discriminator dominates a kernel by its scale): the space in which the ``heldout``
    weighting compares image samples. It knows nothing of labels or modes."""
    scales: dict[str, torch.Tensor] = {}

    def embed(x: torch.Tensor) -> torch.Tensor:
        parts = []
        with evaluating(*discriminators):
            for d in discriminators:
                f = torch.cat([features(d, part.to(d.device)) for part in x.split(2048)]).double()
                if d.name not in scales:
                    scales[d.name] = f.square().mean().sqrt().clamp_min(1e-12)
                parts.append(f / scales[d.name])
        return torch.cat(parts, 1)

    return embed


def features(d: Discriminator, x: torch.Tensor) -> torch.Tensor:
    """The discriminator's features of ``x`` (one row per sample, or per pack): the input of the
    last linear or convolution layer of its network."""
    last = None
    for module in d.net.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
            last = module
    if last is None:
        raise ArenaError(f"{d.name}: the manifold judgement reads the input of a network's last linear or convolution "
                         f"layer, and {type(d.net).__name__} has none; judge by game, auc or likelihood")
    captured: list[torch.Tensor] = []
    hook = last.register_forward_hook(lambda module, args, out: captured.append(args[0].detach().flatten(1)))
    try:
        with torch.no_grad():
            d(x)
    finally:
        hook.remove()
    return captured[-1]
