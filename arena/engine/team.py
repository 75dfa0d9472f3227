"""Team matches with their discriminators stacked: one generator against K discriminators of one
signature (GMAN), every discriminator's update and every discriminator's judgement of the
generator's batch computed at once.

The K discriminators are stacked as :class:`arena.engine.stacking.StackedAgents` (their weights,
BatchNorm buffers and Adam / SGD / RMSprop states in ``(K, P)`` tensors) for the duration of the
match, and each round runs ``vmap`` over ``functional_call`` of one parameter-free copy of the
network, the real and generated batches shared by all K. The generator is not stacked: it steps
with its own optimizer, through the game's :meth:`games.Game.generator_team_step`, on the
stacked logits. The result equals :meth:`games.Game.play_round` with the discriminators one by
one within float tolerance (tests/arena/engine/test_team.py). What it saves is measured by
benchmarks/throughput.py (row i); benchmarks/README.md gives the current figures.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
from torch.func import vmap

from agents import Discriminator, Generator
from arena.core import faults
from arena.engine.batched import StackedDiscriminator, columns, signature, unpack_columns
from arena.engine.stacking import StackedAgents, flat_grad, leaves, update
from games import Game

__all__ = ["TeamKernels", "stackable_team", "play_team"]


def stackable_team(game: Game, generators: Sequence[Generator], discriminators: Sequence[Discriminator]) -> bool:
    """Whether a match can be played by :func:`play_team`: a game whose shape stacks its
    discriminators (:class:`games.Shape`; GMAN), one learning generator, and two or more
    discriminators of one :func:`arena.engine.batched.signature` (which rules out frozen ones and
    optimizers :class:`StackedAgents` does not run)."""
    if game.shape.stacks != "discriminators" or len(generators) != 1 or len(discriminators) < 2 or generators[0].frozen:
        return False
    first = signature(discriminators[0])
    return first is not None and all(signature(d) == first for d in discriminators[1:])


class TeamKernels:
    """The stacked functions of one game and one discriminator architecture, built once and
    reused by every match they fit.

    Args:
        game: a game for which :func:`stackable_team` holds.
        discriminator: an agent of the architecture.
    """

    def __init__(self, game: Game, discriminator: Discriminator) -> None:
        self.game = game
        self.d = StackedDiscriminator(discriminator)
        self.d_update = vmap(functools.partial(self.d.loss, game), in_dims=(0, 0, None, None), randomness="different")
        self.judge = vmap(self.d, in_dims=(0, 0, None), randomness="different")


def play_team(kernels: TeamKernels, generator: Generator, discriminators: Sequence[Discriminator],
              real_batch: Callable[[], torch.Tensor], steps: int) -> dict[str, float]:
    """Play ``steps`` rounds of ``generator`` against every one of ``discriminators`` at once and
    return the mean of each round statistic, as :func:`arena.engine.match.play_match` does: per
    round ``d_steps`` updates of every discriminator on the same real batch and the same generated
    batch (the generator's samples without gradient), then one generator step against all of them
    (their parameters detached). The batches and latents are drawn in the order of
    :meth:`games.Game.play_round`."""
    game = kernels.game
    for agent in (generator, *discriminators):
        agent.train()
    discs = StackedAgents(discriminators)
    d = discs.tensors() | {"buffers": discs.buffers}
    totals: dict[str, torch.Tensor] = {}
    try:
        for _ in range(steps):
            for _ in range(game.d_steps):
                real = real_batch()
                with torch.no_grad():
                    fake = generator.sample(real.shape[0])
                table, index = columns([discs.host_step()], discs.device, discs.flat.dtype)
                d_leaves = leaves(d["p"], kernels.d.layout)
                loss, d_real, d_fake = kernels.d_update(d_leaves, d["buffers"], real, fake)
                update(discs.rule, d, flat_grad(loss.float().sum(), d_leaves), unpack_columns(table, index)[0])
                stats = {"d_loss": loss.detach().float().mean(), "d_real": d_real.float().mean(), "d_fake": d_fake.float().mean()}
            faults.hit("round")  # crash-safety tests kill the process here (arena.core.faults)
            generator.zero_grad()
            fake = generator.sample(real.shape[0])
            logits = kernels.judge(leaves(d["p"], kernels.d.layout, grad=False), d["buffers"], fake)
            stats.update(game.generator_team_step(generator, logits, fake))
            for key, value in stats.items():
                totals[key] = totals[key] + value if key in totals else value.clone()
    finally:
        discs.write_back()
    return {key: float(value) / steps for key, value in totals.items()}
