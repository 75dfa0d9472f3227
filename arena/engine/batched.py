"""Batched matchings: the pair matches of a matching whose players share architectures, played as
one stacked computation.

The K generators of such a group are stacked with ``torch.func.stack_module_state`` (so are
the K discriminators), and each round runs every match at once: ``vmap`` over
``functional_call`` of one parameter-free copy of the network, with the BatchNorm buffers
passed (and updated) explicitly and ``randomness='different'`` so that dropout draws
differently for every agent. Each agent keeps its own optimizer state and hyper-parameters
(its learning rate, betas, step count): :class:`StackedAgents` runs Adam, SGD and RMSprop
with those as per-agent tensors, writing the torch optimizer's state back after the match.
The result equals playing the matches one by one within float tolerance, except for dropout
masks, which come from the global random stream in another order.

A round is played either by two update functions (the discriminators' and the generators'
losses, vmapped), with the gradients and optimizer steps eager between them, or, when compiled
(``compute.compile``, ``compute.cuda_graphs``), by the **fused round**: the whole round, every
update and optimizer step, as one function that compiles into one graph (one CUDA graph). Its
real batches, latents and optimizer columns are drawn before it, in the order the update
functions draw them, so both give the same numbers.
"""

from __future__ import annotations

import copy
import functools
import types
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, stack_module_state, vmap
from torch.utils._pytree import tree_leaves

from agents import Agent, Discriminator, Generator
from agents.agent import pack_samples
from arena.core import faults
from arena.core.tensors import map_tensors
from arena.data.stream import DataStream
from arena.engine.stacking import StackedAgents, flat_grad, layout, leaves, optimizer_key, unflatten, update
from games import Game

ROUND_STATS = ("d_loss", "d_real", "d_fake", "g_loss")
"""The statistics of a round, in the order of the stacked sums."""

__all__ = ["StackedAgents", "StackedDiscriminator", "Kernels", "play_batched", "signature", "architecture", "stacked_forward", "batchable_game"]

def batchable_game(game: Game) -> bool:
    """Whether ``game``'s pair matches stack: its shape says its rounds are its ``discriminator_objective`` and
    ``generator_objective`` alone (:class:`games.Shape`), which is all a batched round calls."""
    return game.shape.stacks == "pairs"


def signature(agent: Agent) -> tuple | None:
    """Agents with equal signatures can be stacked (same class, network, latent prior, optimizer
    kind); None for an agent that cannot be (a categorical generator, a game's extra state, an
    optimizer :class:`StackedAgents` does not run)."""
    if type(agent) not in (Generator, Discriminator) or agent.extras or agent.frozen:
        return None
    opt = optimizer_key(agent)
    if opt is None:
        return None
    if isinstance(agent, Generator):
        return (type(agent).__name__, architecture(agent.net), repr(sorted(agent.latent.spec().items())), opt,
                agent.ema is not None, 1)
    return (type(agent).__name__, architecture(agent.net), None, opt, False, agent.pack)


def architecture(net: nn.Module) -> tuple:
    """Networks with equal architectures can be stacked for ``vmap``: the same modules, parameter
    and buffer shapes and dtypes, on the same device."""
    tensors = (*net.named_parameters(), *net.named_buffers())
    return (repr(net), tuple((n, tuple(t.shape), t.dtype, str(t.device)) for n, t in tensors))


def stacked_forward(nets: Sequence[nn.Module], x: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """Every network of one :func:`architecture` on the same inputs ``x``, in one stacked
    forward pass per chunk of ``chunk`` rows (no gradients; each network in its own mode, which
    must be the same for all); shape ``(len(nets), len(x), ...)``. Packed discriminators take
    ``x`` packed already."""
    params, buffers = stack_module_state(list(nets))
    skel = skeleton(nets[0]).train(nets[0].training)
    run = vmap(lambda p, b, xs: functional_call(skel, (p, b), (xs,), tie_weights=False), in_dims=(0, 0, None))
    with torch.no_grad():
        return torch.cat([run(params, buffers, part) for part in x.split(chunk)], dim=1)


def _float32_norm(self: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """A batch normalisation layer's forward in float32 on whatever precision it is given, as
    autocast runs the ops it keeps in float32: under vmap, batch_norm wants its input and running
    statistics of one dtype, and mixed precision hands it bf16 inputs and float32 statistics."""
    if x.dtype not in (torch.float16, torch.bfloat16):
        return type(self).forward(self, x)
    with torch.autocast(x.device.type, enabled=False):
        return type(self).forward(self, x.float())


def skeleton(net: nn.Module) -> nn.Module:
    """A parameter-free copy of ``net`` (on the meta device) in training mode, for ``functional_call``;
    its batch normalisation layers run in float32 under mixed precision."""
    skel = copy.deepcopy(net).to("meta").train()
    for m in skel.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.forward = types.MethodType(_float32_norm, m)
    return skel


class StackedDiscriminator:
    """A parameter-free copy of a discriminator's network, called with one agent's weights and
    buffers (inside ``vmap``: each stacked agent's); the discriminator side of :class:`Kernels` and
    of :class:`arena.engine.team.TeamKernels`.

    Args:
        discriminator: an agent of the architecture.
    """

    def __init__(self, discriminator: Discriminator) -> None:
        self.skeleton, self.layout, self.pack = skeleton(discriminator.net), layout(discriminator.net), discriminator.pack
        self.per_sample = not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in discriminator.net.modules())
        """Whether the discriminator treats every input on its own (no batch normalisation), so
        that real and generated batches may share one forward pass."""

    def __call__(self, p: dict, b: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.skeleton, (p, b), (pack_samples(x, self.pack),), tie_weights=False)

    def loss(self, game: Game, p: dict, b: dict, real: torch.Tensor, fake: torch.Tensor):
        """The discriminator's loss under ``game`` and its mean outputs (as probabilities) on
        ``real`` and ``fake``: the two batches apart where it normalises batches, as in
        :meth:`games.Game.discriminator_loss`, else in one pass (the same numbers, half the calls)."""
        if self.per_sample:
            real_logits, fake_logits = self(p, b, torch.cat([real, fake])).split(
                [real.shape[0] // self.pack, fake.shape[0] // self.pack])
        else:
            real_logits, fake_logits = self(p, b, real), self(p, b, fake)
        loss = game.discriminator_objective(real_logits, fake_logits)
        real_logits, fake_logits = game.split_logits(real_logits.detach())[0], game.split_logits(fake_logits.detach())[0]
        return loss, torch.sigmoid(real_logits).mean(), torch.sigmoid(fake_logits).mean()


class Kernels:
    """The stacked update functions of one game and one pair of architectures, built (and
    compiled) once and reused by every match they fit.

    Args:
        game: a game for which :func:`batchable_game` holds.
        generator, discriminator: agents of the two architectures.
        compiled: compiles a function (:meth:`arena.engine.compute.Compute.compiled`), or leaves it.
    """

    def __init__(self, game: Game, generator: Generator, discriminator: Discriminator,
                 compiled: Callable[..., Callable] = lambda fn, what, eager=None: fn, fused: bool = False,
                 static: bool = False) -> None:
        self.game = game
        self.g_skeleton, self.g_layout = skeleton(generator.net), layout(generator.net)
        self.d = StackedDiscriminator(discriminator)
        d_plain, g_plain = vmap(self._d_round, randomness="different"), vmap(self._g_round, randomness="different")
        self.d_update = compiled(d_plain, "the stacked discriminator update")
        self.g_update = compiled(g_plain, "the stacked generator update")
        # where the fused round fails to compile, the uncompiled round takes over (one warning,
        # not one more for each update function a compiler that fails would fail on as well)
        self.fused = compiled(self._fused_round, "the stacked round", functools.partial(self._round, d_plain, g_plain)) if fused else None
        """The whole round (every discriminator update, the generator update and their optimizer
        steps) as one function, built when it is compiled: then one compiled graph (one CUDA graph
        with ``compute.cuda_graphs``) plays a round of every match, where the two update functions
        leave the gradients and optimizer steps to eager code between them. Not for agents with
        weight decay, whose fused round inductor's CPU code generator fails to compile (``KeyError``
        in its outer-loop fusion, torch 2.13): they keep the two update functions."""
        self.static = static
        """Whether the persistent tensors of :meth:`slots` are marked as static addresses (CUDA
        graphs replay them in place)."""
        self._slots: dict[tuple, dict] = {}

    def totals(self, k: int, device: torch.device) -> torch.Tensor:
        """Zeroed persistent ``(4, k)`` sums of the round statistics (``d_loss``, ``d_real``,
        ``d_fake``, ``g_loss``) for the fused round."""
        key = ("totals", k)
        if key not in self._slots:
            self._slots[key] = torch.zeros(len(ROUND_STATS), k, device=device)
            if self.static:
                torch._dynamo.mark_static_address(self._slots[key])
        return self._slots[key].zero_()

    def slots(self, gens: StackedAgents, discs: StackedAgents) -> tuple[dict, dict]:
        """The tensors the fused round reads and writes, in storage that outlives the match: the
        stacked agents' tensors are copied in (and the agents pointed at the copies), so every
        match of this size replays the same compiled round at the same addresses."""
        key = (len(gens.agents), gens.rule, discs.rule)
        if key not in self._slots:
            made = {"g": map_tensors(gens.tensors(), torch.empty_like), "d": map_tensors(discs.tensors(), torch.empty_like),
                    "gb": map_tensors(gens.buffers, torch.empty_like), "db": map_tensors(discs.buffers, torch.empty_like)}
            if self.static:
                for tensor in tree_leaves(made):
                    torch._dynamo.mark_static_address(tensor)
            self._slots[key] = made
        slot = self._slots[key]
        for agents, t, b in ((gens, slot["g"], slot["gb"]), (discs, slot["d"], slot["db"])):
            with torch.no_grad():
                for dst, src in zip(tree_leaves((t, b)), tree_leaves((agents.tensors(), agents.buffers)), strict=True):
                    dst.copy_(src)
            agents.adopt(t, b)
        return slot["g"] | {"buffers": slot["gb"]}, slot["d"] | {"buffers": slot["db"]}

    def _g_call(self, gp, gb, z):
        return functional_call(self.g_skeleton, (gp, gb), (z,), tie_weights=False)

    def _d_round(self, gp, gb, dp, db, real, z):
        """One discriminator's loss and mean outputs on ``real`` and on its generator's samples at
        ``z`` (generated without gradient)."""
        with torch.no_grad():
            fake = self._g_call(gp, gb, z).to(real.dtype)
        return self.d.loss(self.game, dp, db, real, fake)

    def _g_round(self, gp, gb, dp, db, z):
        fake = self._g_call(gp, gb, z)
        return self.game.generator_objective(self.d(dp, db, fake), fake)

    # ------------------------------------------------------------------ a round
    def eager_round(self, g: dict, d: dict, g_rule: tuple, d_rule: tuple, real: torch.Tensor, z_d: torch.Tensor,
                    z_g: torch.Tensor, table: torch.Tensor, index: tuple, totals: torch.Tensor) -> None:
        """One round of every stacked match, in place, as :meth:`_fused_round` plays it, by the two
        update functions with the gradients (``torch.autograd.grad``) and the optimizer steps
        (:func:`update`) eager between them. What every run plays without compilation; the
        compiled fused round falls back to it with the update functions uncompiled."""
        self._round(self.d_update, self.g_update, g, d, g_rule, d_rule, real, z_d, z_g, table, index, totals)

    def _round(self, d_update: Callable, g_update: Callable, g: dict, d: dict, g_rule: tuple, d_rule: tuple,
               real: torch.Tensor, z_d: torch.Tensor, z_g: torch.Tensor, table: torch.Tensor, index: tuple,
               totals: torch.Tensor) -> None:
        *d_cols, g_cols = unpack_columns(table, index)
        for s, cols in enumerate(d_cols):
            d_leaves = leaves(d["p"], self.d.layout)
            d_loss, d_real, d_fake = d_update(leaves(g["p"], self.g_layout, grad=False), g["buffers"], d_leaves,
                                                   d["buffers"], real[s], z_d[s])
            # copied at once: replayed as CUDA graphs, the outputs live in the graphs' memory,
            # which the next update may reuse (read after it: "accessing tensor output of
            # CUDAGraphs that has been overwritten", seen on an H200)
            d_stats = torch.stack([d_loss.detach(), d_real, d_fake]).float()
            update(d_rule, d, flat_grad(d_loss.float().sum(), d_leaves), cols)
        faults.hit("round")  # crash-safety tests kill the process here (arena.core.faults)
        g_leaves = leaves(g["p"], self.g_layout)
        g_loss = g_update(g_leaves, g["buffers"], leaves(d["p"], self.d.layout, grad=False), d["buffers"], z_g)
        g_stats = g_loss.detach().float().unsqueeze(0)
        update(g_rule, g, flat_grad(g_loss.float().sum(), g_leaves), g_cols)
        totals += torch.cat([d_stats, g_stats])

    def _d_objective(self, d_row, g_row, gb, db, real, z):
        loss, d_real, d_fake = self._d_round(unflatten(g_row, self.g_layout), gb, unflatten(d_row, self.d.layout), db, real, z)
        return loss.float(), (loss.detach().float(), d_real.float(), d_fake.float())

    def _g_objective(self, g_row, d_row, gb, db, z):
        loss = self._g_round(unflatten(g_row, self.g_layout), gb, unflatten(d_row, self.d.layout), db, z)
        return loss.float(), loss.detach().float()

    def _fused_round(self, g: dict, d: dict, g_rule: tuple, d_rule: tuple, real: torch.Tensor, z_d: torch.Tensor,
                     z_g: torch.Tensor, table: torch.Tensor, index: tuple, totals: torch.Tensor) -> None:
        """One round of every stacked match, in place: ``real`` and ``z_d`` hold a batch per
        discriminator update (first dimension), ``table`` and ``index`` the optimizer columns of
        every step of the round (:func:`columns`); ``totals`` gains the round's statistics. The same arithmetic as the update functions with
        :func:`update` between them; the gradients come from ``torch.func.grad`` rather than
        ``torch.autograd.grad``, which compiles into the same graph."""
        d_grad = vmap(grad_and_value(self._d_objective, has_aux=True), randomness="different")
        g_grad = vmap(grad_and_value(self._g_objective, has_aux=True), randomness="different")
        *d_cols, g_cols = unpack_columns(table, index)
        for s, cols in enumerate(d_cols):
            grad, (_, d_stats) = d_grad(d["p"], g["p"], g["buffers"], d["buffers"], real[s], z_d[s])
            update(d_rule, d, grad, cols)
        grad, (_, g_loss) = g_grad(g["p"], d["p"], g["buffers"], d["buffers"], z_g)
        update(g_rule, g, grad, g_cols)
        totals.add_(torch.stack([*d_stats, g_loss]))


def stacked(tensors: list[torch.Tensor]) -> torch.Tensor:
    """``torch.stack(tensors)``; a view where there is one (no copy, no kernel launch)."""
    return tensors[0].unsqueeze(0) if len(tensors) == 1 else torch.stack(tensors)


def gather(streams: Sequence) -> torch.Tensor:
    """The next batch of every stream, ``(K, batch, ...)``: one gather where the streams are forks
    of one :class:`arena.data.DataStream` (the same rows as drawing them one at a time), else
    stacked."""
    if not all(type(s) is DataStream and s.data is streams[0].data for s in streams):
        return torch.stack([draw() for draw in streams])
    data = streams[0].data
    rows = data.index_select(0, torch.cat([s.next_index() for s in streams]))
    return rows.view(len(streams), -1, *data.shape[1:])


def columns(steps: list[dict[str, list[float]]], device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, tuple]:
    """The :meth:`StackedAgents.host_step` values of a round's steps as one ``(R, K, 1)`` table of
    ``dtype`` (the weights'), sent to ``device`` in one copy, and which row holds what: for each
    step, its ``(name, row)`` pairs. One tensor rather than views of it: a compiled graph's inputs
    then alias nothing."""
    table = torch.tensor([step[key] for step in steps for key in step], dtype=dtype).unsqueeze(2).to(device)
    index, row = [], 0
    for step in steps:
        index.append(tuple((key, row + i) for i, key in enumerate(step)))
        row += len(step)
    return table, tuple(index)


def unpack_columns(table: torch.Tensor, index: tuple) -> list[dict[str, torch.Tensor]]:
    """The ``(K, 1)`` columns of each step, from :func:`columns`'s table and index."""
    return [{key: table[row] for key, row in step} for step in index]


def play_batched(
    kernels: Kernels,
    generators: Sequence[Generator],
    discriminators: Sequence[Discriminator],
    streams: Sequence[Callable[[], torch.Tensor]],
    steps: int,
    autocast: Callable[[], AbstractContextManager] = nullcontext,
) -> list[dict[str, float]]:
    """Play the K pair matches ``(generators[k], discriminators[k])`` at once, each drawing its
    real batches from ``streams[k]``, for ``steps`` rounds; the mean round statistics of each
    match, as :func:`arena.engine.match.play_match` returns them.

    Args:
        kernels: the update functions of the game and of these architectures.
        generators, discriminators: K agents each, every role of one :func:`signature`.
        streams: K sources of real batches.
        steps: rounds per match.
        autocast: a context for the forward passes (mixed precision).
    """
    for agent in (*generators, *discriminators):
        agent.train()
    gens, discs = StackedAgents(generators), StackedAgents(discriminators)

    def latents(n: int) -> torch.Tensor:
        return torch.stack([g.latent.sample(n, g.rng, g.device) for g in generators])

    fused = kernels.fused is not None and not (gens.decay or discs.decay)
    try:
        if fused:
            g, d = kernels.slots(gens, discs)
            totals = kernels.totals(len(generators), gens.device)
            play = kernels.fused
        else:
            g, d = gens.tensors() | {"buffers": gens.buffers}, discs.tensors() | {"buffers": discs.buffers}
            totals = torch.zeros(len(ROUND_STATS), len(generators), device=gens.device)
            play = kernels.eager_round
        d_steps = kernels.game.d_steps
        for _ in range(steps):
            # the round's real batches, latents and optimizer columns, drawn in the order one match
            # played alone draws them (every source is its own generator)
            real = stacked([gather(streams) for _ in range(d_steps)])
            z_d = stacked([latents(real.shape[2]) for _ in range(d_steps)])
            z_g = latents(real.shape[2])
            table, index = columns([*(discs.host_step() for _ in range(d_steps)), gens.host_step()], gens.device, gens.flat.dtype)
            with autocast():
                play(g, d, gens.rule, discs.rule, real, z_d, z_g, table, index, totals)
            if fused:  # a compiled round has no inside to stop in (eager rounds stop mid-round)
                faults.hit("round")
    finally:
        gens.write_back()
        discs.write_back()
    means = (totals / steps).tolist()
    return [{key: means[i][k] for i, key in enumerate(ROUND_STATS)} for k in range(len(generators))]
