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
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from agents import Agent, Discriminator, Generator
from agents.agent import pack_samples
from games import Game

__all__ = ["StackedAgents", "Kernels", "play_batched", "signature", "architecture", "stacked_forward", "batchable_game"]

_GAME_METHODS = ("discriminator_loss", "generator_loss", "discriminator_update", "generator_update",
                 "update_discriminators", "update_generators", "play_round")


def batchable_game(game: Game) -> bool:
    """Whether ``game`` is played by its ``d_loss`` and ``g_loss`` alone (a pair game that
    overrides none of the update methods), which is all a batched round calls."""
    return (
        game.team == ("one", "one")
        and game.generator_kind == "sample"
        and all(getattr(type(game), m) is getattr(Game, m) for m in _GAME_METHODS)
    )


def _optimizer_key(agent: Agent) -> tuple | None:
    opt = agent.optimizer.optimizer
    if len(opt.param_groups) != 1:
        return None
    group = opt.param_groups[0]
    if group.get("maximize") or group.get("differentiable") or group.get("fused") or group.get("capturable"):
        return None
    if isinstance(opt, torch.optim.Adam) and not isinstance(opt, torch.optim.AdamW):
        if group["amsgrad"] or group.get("decoupled_weight_decay"):
            return None
        return ("adam",)
    if isinstance(opt, torch.optim.SGD):
        if group["dampening"]:
            return None
        return ("sgd", group["momentum"] > 0 or agent.optimizer.momentum_ramp is not None, group["nesterov"])
    if isinstance(opt, torch.optim.RMSprop) and not group["centered"]:
        return ("rmsprop", group["momentum"] > 0)
    return None


def signature(agent: Agent) -> tuple | None:
    """Agents with equal signatures can be stacked (same class, network, latent prior, optimizer
    kind); None for an agent that cannot be (a categorical generator, a game's extra state, an
    optimizer :class:`StackedAgents` does not run)."""
    if type(agent) not in (Generator, Discriminator) or agent.extras or agent.frozen:
        return None
    opt = _optimizer_key(agent)
    if opt is None:
        return None
    latent = repr(sorted(agent.latent.spec().items())) if isinstance(agent, Generator) else None
    ema = getattr(agent, "ema", None) is not None
    return (type(agent).__name__, architecture(agent.net), latent, opt, ema, getattr(agent, "pack", 1))


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


class StackedAgents:
    """K agents of one signature, their weights, buffers and optimizer states stacked along a
    new first dimension for the duration of a match; :meth:`write_back` returns them.

    All parameters of an agent live in one row of a ``(K, P)`` leaf tensor, so an optimizer
    step is a handful of tensor operations with per-agent ``(K, 1)`` hyper-parameters, however
    many parameter tensors the network has.

    Args:
        agents: the agents (equal :func:`signature`).
    """

    def __init__(self, agents: Sequence[Agent]) -> None:
        self.agents = list(agents)
        first = self.agents[0]
        self.kind, *flags = _optimizer_key(first)
        self.momentum = bool(flags and flags[0])
        self.nesterov = bool(self.kind == "sgd" and flags[1])
        params, self.buffers = stack_module_state([a.net for a in self.agents])
        k = len(self.agents)
        self.layout = [(name, p.shape[1:], p[0].numel()) for name, p in params.items()]
        self.flat = torch.cat([p.detach().reshape(k, -1) for p in params.values()], 1)
        self.leaves, offset = {}, 0
        for name, shape, n in self.layout:  # leaves sharing the storage of ``flat``
            self.leaves[name] = self.flat[:, offset : offset + n].view(k, *shape).detach().requires_grad_(True)
            offset += n
        self.frozen = {name: leaf.detach() for name, leaf in self.leaves.items()}
        self.groups = [a.optimizer.optimizer.param_groups[0] for a in self.agents]
        owned = [list(a.net.parameters()) for a in self.agents]
        states = [[a.optimizer.optimizer.state.get(p, {}) for p in own] for a, own in zip(self.agents, owned)]
        keys = {"adam": ("exp_avg", "exp_avg_sq"), "sgd": ("momentum_buffer",), "rmsprop": ("square_avg", "momentum_buffer")}
        self.state = {key: self._flat_state(states, key) for key in keys[self.kind]}
        steps = [float(s[0].get("step", 0.0)) if s else 0.0 for s in states]  # every parameter steps together
        self.started = torch.tensor([bool(s and s[0]) for s in states], device=first.device).unsqueeze(1)
        self.step_count = torch.tensor(steps, dtype=torch.float64)
        self.device = first.device
        self.hyper = {key: self._column([g[key] for g in self.groups])
                      for key in ("weight_decay", "eps", "alpha", "momentum") if key in self.groups[0]}
        if self.kind == "adam":
            self.hyper["beta1"] = self._column([g["betas"][0] for g in self.groups])
            self.hyper["beta2"] = self._column([g["betas"][1] for g in self.groups])
            self.hyper["1-beta1"] = 1 - self.hyper["beta1"]
            self.hyper["1-beta2"] = 1 - self.hyper["beta2"]
        self.decay = any(g["weight_decay"] for g in self.groups)
        self.ema = None
        """The agents' weight averages, stacked like their weights (generators with EMA on)."""
        if getattr(first, "ema", None) is not None:
            self.ema = torch.stack([torch.cat([p.detach().reshape(-1) for p in a.ema.net.parameters()]) for a in self.agents])
            self.ema_decay = self._column([a.ema.spec.decay for a in self.agents])
            self.ema_start = self._column([float(a.ema.spec.start) for a in self.agents])

    def _flat_state(self, states: list[list[dict]], key: str) -> torch.Tensor:
        rows = [
            torch.cat([(s[key].detach().reshape(-1) if s.get(key) is not None else torch.zeros(n, device=self.flat.device))
                       for s, (_, _, n) in zip(agent, self.layout)])
            for agent in states
        ]
        return torch.stack(rows).to(self.flat.dtype)

    def _column(self, values: list[float]) -> torch.Tensor:
        """Per-agent values as a ``(K, 1)`` float32 column."""
        return torch.tensor(values, dtype=torch.float32, device=self.flat.device).unsqueeze(1)

    # ------------------------------------------------------------------ forward
    def params(self, detach: bool = False) -> dict[str, torch.Tensor]:
        """Each parameter, stacked: leaf tensors that are views of the ``(K, P)`` tensor (their
        detached twins with ``detach``)."""
        return self.frozen if detach else self.leaves

    def grad(self, loss: torch.Tensor) -> torch.Tensor:
        """The ``(K, P)`` gradient of ``loss`` (the sum of the agents' losses)."""
        grads = torch.autograd.grad(loss, list(self.leaves.values()))
        return torch.cat([g.reshape(g.shape[0], -1) for g in grads], 1)

    # ------------------------------------------------------------------ optimizer
    def step(self, grad: torch.Tensor) -> None:
        """One optimizer step for every agent (``grad``: ``(K, P)``), each with its own state and
        hyper-parameters, the same arithmetic as torch's single-tensor Adam, SGD and RMSprop."""
        self.step_count += 1
        lrs = [a.optimizer.lr for a in self.agents]
        h = self.hyper
        if self.kind != "adam":
            lr = self._column(lrs)
        with torch.no_grad():
            p = self.flat
            if self.decay:
                grad = grad + h["weight_decay"] * p
            if self.kind == "adam":
                b1 = [g["betas"][0] for g in self.groups]
                b2 = [g["betas"][1] for g in self.groups]
                steps = self.step_count.tolist()
                m, v = self.state["exp_avg"], self.state["exp_avg_sq"]
                m.lerp_(grad, h["1-beta1"])
                v.mul_(h["beta2"]).addcmul_(grad * h["1-beta2"], grad)
                step_size = self._column([-lr / (1 - beta**s) for lr, beta, s in zip(lrs, b1, steps)])
                bc2_sqrt = self._column([math.sqrt(1 - beta**s) for beta, s in zip(b2, steps)])
                p.add_((m * step_size) / (v.sqrt() / bc2_sqrt).add_(h["eps"]))
            elif self.kind == "sgd":
                if self.momentum:
                    momentum = self._column([a.optimizer.momentum or 0.0 for a in self.agents])
                    buf = self.state["momentum_buffer"]
                    buf.copy_(torch.where(self.started, buf * momentum + grad, grad))
                    grad = grad + momentum * buf if self.nesterov else buf
                p.add_(grad * -lr)
            else:
                sq = self.state["square_avg"]
                sq.mul_(h["alpha"]).add_((1 - h["alpha"]) * grad * grad)
                avg = sq.sqrt().add_(h["eps"])
                if self.momentum:
                    buf = self.state["momentum_buffer"]
                    buf.mul_(h["momentum"]).add_(grad / avg)
                    p.add_(buf * -lr)
                else:
                    p.add_((-lr * grad) / avg)
        self.started[:] = True
        for a in self.agents:
            a.optimizer.advance()
        if self.ema is not None:  # Agent.after_step, for every agent at once
            steps = self._column([float(a.optimizer.steps) for a in self.agents])
            with torch.no_grad():
                self.ema.lerp_(self.flat, torch.where(steps <= self.ema_start, torch.ones_like(steps), 1 - self.ema_decay))

    # ------------------------------------------------------------------ back to the agents
    def write_back(self) -> None:
        """Copy the stacked weights, buffers and optimizer states back into every agent."""
        with torch.no_grad():
            for k, agent in enumerate(self.agents):
                opt = agent.optimizer.optimizer
                offset = 0
                for p, (_, shape, n) in zip(agent.net.parameters(), self.layout):
                    p.copy_(self.flat[k, offset : offset + n].view(shape))
                    entry = {key: t[k, offset : offset + n].view(shape).clone() for key, t in self.state.items()}
                    offset += n
                    if self.kind != "sgd":
                        entry["step"] = torch.tensor(float(self.step_count[k]), dtype=torch.float32)
                    if not self.momentum:
                        entry.pop("momentum_buffer", None)
                    if self.kind == "sgd" and not self.started[k]:
                        entry = {}
                    if entry:
                        opt.state[p] = entry
                    else:  # torch keeps no state for plain SGD
                        opt.state.pop(p, None)
                for name, b in agent.net.named_buffers():
                    b.copy_(self.buffers[name][k])
                if self.ema is not None:
                    offset = 0
                    for p, (_, shape, n) in zip(agent.ema.net.parameters(), self.layout):
                        p.copy_(self.ema[k, offset : offset + n].view(shape))
                        offset += n
                    agent.ema.stale = agent.ema.has_batchnorm


def skeleton(net: nn.Module) -> nn.Module:
    """A parameter-free copy of ``net`` (on the meta device) in training mode, for ``functional_call``."""
    return copy.deepcopy(net).to("meta").train()


class Kernels:
    """The stacked update functions of one game and one pair of architectures, built (and
    compiled) once and reused by every match they fit.

    Args:
        game: a game for which :func:`batchable_game` holds.
        generator, discriminator: agents of the two architectures.
        compiled: compiles a function (:meth:`arena.engine.compute.Compute.compiled`), or leaves it.
    """

    def __init__(self, game: Game, generator: Agent, discriminator: Agent,
                 compiled: Callable[[Callable, str], Callable] = lambda fn, what: fn) -> None:
        self.game = game
        self.g_skeleton, self.d_skeleton = skeleton(generator.net), skeleton(discriminator.net)
        self.pack = getattr(discriminator, "pack", 1)
        self.d_per_sample = not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in discriminator.net.modules())
        """Whether the discriminator treats every input on its own (no batch normalisation), so
        that real and generated batches may share one forward pass."""
        self.d_update = compiled(vmap(self._d_round, randomness="different"), "the stacked discriminator update")
        self.g_update = compiled(vmap(self._g_round, randomness="different"), "the stacked generator update")

    def _g_call(self, gp, gb, z):
        return functional_call(self.g_skeleton, (gp, gb), (z,), tie_weights=False)

    def _d_call(self, dp, db, x):
        return functional_call(self.d_skeleton, (dp, db), (pack_samples(x, self.pack),), tie_weights=False)

    def _d_round(self, gp, gb, dp, db, real, z):
        """One discriminator's loss and mean outputs on ``real`` and on its generator's samples at
        ``z`` (generated without gradient; real and generated batches apart where the
        discriminator normalises batches, as in :meth:`games.Game.discriminator_loss`)."""
        with torch.no_grad():
            fake = self._g_call(gp, gb, z).to(real.dtype)
        if self.d_per_sample:  # one pass over both batches: the same numbers, half the calls
            real_logits, fake_logits = self._d_call(dp, db, torch.cat([real, fake])).split(
                [real.shape[0] // self.pack, fake.shape[0] // self.pack])
        else:
            real_logits = self._d_call(dp, db, real)
            fake_logits = self._d_call(dp, db, fake)
        loss = self.game.d_loss(real_logits, fake_logits)
        return loss, torch.sigmoid(real_logits.detach()).mean(), torch.sigmoid(fake_logits.detach()).mean()

    def _g_round(self, gp, gb, dp, db, z):
        return self.game.g_loss(self._d_call(dp, db, self._g_call(gp, gb, z)))


def play_batched(
    kernels: Kernels,
    generators: Sequence[Generator],
    discriminators: Sequence[Discriminator],
    streams: Sequence[Callable[[], torch.Tensor]],
    steps: int,
    autocast: Callable[[], AbstractContextManager] = nullcontext,
    between: Callable[[], None] | None = None,
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
        between: called inside every round, between the discriminator and generator updates.
    """
    game = kernels.game
    for agent in (*generators, *discriminators):
        agent.train()
    gens, discs = StackedAgents(generators), StackedAgents(discriminators)
    keys = ("d_loss", "d_real", "d_fake", "g_loss")
    totals = torch.zeros(len(keys), len(generators), device=gens.device)

    def latents(n: int) -> torch.Tensor:
        return torch.stack([g.latent.sample(n, g.rng, g.device) for g in generators])

    try:
        for _ in range(steps):
            for _ in range(game.d_steps):
                real = torch.stack([draw() for draw in streams])
                n = real.shape[1]
                with autocast():
                    d_loss, d_real, d_fake = kernels.d_update(gens.params(detach=True), gens.buffers, discs.params(),
                                                              discs.buffers, real, latents(n))
                # copied at once: replayed as CUDA graphs, the outputs live in the graphs' memory,
                # which the next update may reuse (read after it: "accessing tensor output of
                # CUDAGraphs that has been overwritten", seen on an H200)
                d_stats = torch.stack([d_loss.detach(), d_real, d_fake]).float()
                discs.step(discs.grad(d_loss.float().sum()))
            if between is not None:
                between()
            with autocast():
                g_loss = kernels.g_update(gens.params(), gens.buffers, discs.params(detach=True), discs.buffers, latents(n))
            g_stats = g_loss.detach().float().unsqueeze(0)
            gens.step(gens.grad(g_loss.float().sum()))
            totals += torch.cat([d_stats, g_stats])
    finally:
        gens.write_back()
        discs.write_back()
    means = (totals / steps).tolist()
    return [{key: means[i][k] for i, key in enumerate(keys)} for k in range(len(generators))]
