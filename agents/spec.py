"""Agent specs as they appear in a config, and building agents from them."""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated, Any, Literal

import gymnasium as gym
import numpy as np
import torch

from agents.agent import LOGIT_SPACE, Agent, CategoricalGenerator, Discriminator, Generator
from agents.ema import EMASpec
from agents.family import FamilyMember, FamilyNet
from agents.latent import latents
from agents.networks import networks
from agents.optim import optimizers
from arena.core.errors import ConfigError
from arena.core.registry import Ge, Le, build

__all__ = ["AgentSpec", "build_agent", "agent_names", "member_names", "estimate_agent_bytes"]

MAX_COUNT = 4096
"""Copies one spec may stand for."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


@dataclasses.dataclass
class AgentSpec:
    """One entry of a config's ``agents`` list; it stands for ``count`` agents."""

    name: str
    """Base name; with ``count`` > 1 the agents are ``name0 .. name{count-1}``."""
    role: Literal["generator", "discriminator"]
    """``generator`` or ``discriminator``."""
    net: dict[str, Any]
    """The network: ``{type: mlp|maxout-mlp|dcgan|module:Class, ...}``."""
    optim: dict[str, Any] = dataclasses.field(default_factory=lambda: {"type": "adam"})
    """The optimizer: ``{type: adam|sgd|rmsprop, lr: ..., schedule: {...}}``."""
    latent: dict[str, Any] | None = None
    """Generators only: the latent prior, ``{dist: normal|uniform, dim: ...}``."""
    count: Annotated[int, Ge(1), Le(MAX_COUNT)] = 1
    """How many copies of this agent the arena holds."""
    game: dict[str, Any] | None = None
    """The game this agent's matches are played under (default: the run's game); where the two
    players name different games, the discriminator's decides (its loss defines what it learns)."""
    output: Literal["sample", "categorical"] = "sample"
    """Generators only: ``sample`` (the network's output is the sample, trained by backpropagation
    through the discriminator) or ``categorical`` (the network's output are logits of a categorical
    policy over one-hot samples, trained by a policy-gradient game such as ``reinforce-v0``)."""
    ema: EMASpec | None = None
    """Generators only: keep a moving average of the weights (``{decay: 0.99, start: 0}``), which
    evaluation, cross-play, sampling and the mixture then use (:mod:`agents.ema`)."""
    pack: Annotated[int, Ge(1)] = 1
    """Discriminators only: PacGAN's packing (Lin et al., 2018): the network judges ``pack``
    samples at once, concatenated, all real or all generated, and emits one logit per pack."""
    members: Annotated[int, Ge(1), Le(MAX_COUNT)] = 1
    """Generators only: a family of this many members (MGAN's way, :mod:`agents.family`): each owns
    the network's input layer (its first linear layer and the normalisation after it), all share
    the rest; the family trains as one generator on batches mixed across its members, and each
    member (``{name}_0 ..``) is rated, pictured and mixed as a generator of its own."""

    def validate(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(
                f"expected a name of letters, digits, '_' and '-' starting with a letter, got {self.name!r}",
                ("name",),
            )
        if self.role == "generator" and self.latent is None:
            raise ConfigError("a generator needs a latent prior, e.g. {dist: normal, dim: 2}", ("latent",))
        if self.role == "discriminator" and self.latent is not None:
            raise ConfigError("only generators have a latent prior", ("latent",))
        if self.role == "discriminator" and self.output != "sample":
            raise ConfigError("only generators choose an output kind", ("output",))
        if self.role == "discriminator" and self.ema is not None:
            raise ConfigError("only generators average their weights (the average is what they show)", ("ema",))
        if self.role == "generator" and self.pack != 1:
            raise ConfigError("only discriminators pack their inputs", ("pack",))
        if self.members != 1 and (self.role != "generator" or self.output != "sample"):
            raise ConfigError("only generators of samples form families", ("members",))


def member_names(name: str, spec: AgentSpec) -> list[str]:
    """The names of the members of the family ``name`` (none for a generator alone)."""
    return [f"{name}_{k}" for k in range(spec.members)] if spec.members > 1 else []


def _member_seed(seed: int, k: int) -> int:
    """Member ``k``'s initialisation seed in a family seeded ``seed`` (member 0: the family's own)."""
    return (seed + 0x9E3779B97F4A7C15 * k) % (1 << 63)


def _family_net(spec: AgentSpec, data_space: gym.spaces.Box, path: tuple, seed: int | None):
    """``spec``'s network, prior and spaces; for a family, its :class:`FamilyNet` of ``spec.members``
    networks, each initialised from its member's seed (``seed`` None: no seeding, as on ``meta``)."""
    built = []
    for k in range(spec.members):
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(_member_seed(seed, k))
            built.append(_network(spec, data_space, path))
    net, latent, observation_space, action_space = built[0]
    if spec.members > 1:
        try:
            net = FamilyNet([b[0] for b in built])
        except ConfigError as exc:
            raise ConfigError(exc.message, (*path, *exc.path)) from None
    return net, latent, observation_space, action_space


def agent_names(spec: AgentSpec) -> list[str]:
    """The names ``spec`` expands to: ``[name]`` for one copy, ``name0..`` for several."""
    if spec.count == 1:
        return [spec.name]
    return [f"{spec.name}{i}" for i in range(spec.count)]


def _network(spec: AgentSpec, data_space: gym.spaces.Box, path: tuple, outputs: int = 1):
    """Build ``spec``'s latent prior and network (on the current default device); return them with the spaces."""
    data_shape = tuple(data_space.shape)
    bounded = bool(data_space.is_bounded("both"))
    out_range = (float(data_space.low.min()), float(data_space.high.max())) if bounded else None
    if spec.role == "generator":
        latent = build(spec.latent or {}, latents, (*path, "latent"))
        observation_space, action_space = latent.space(), data_space
        in_shape, out_shape = (latent.dim,), data_shape
    else:
        latent = None
        observation_space = data_space
        action_space = LOGIT_SPACE if outputs == 1 else gym.spaces.Box(-np.inf, np.inf, (outputs,), np.float32)
        # packed: the samples of a pack are concatenated along the first axis of a sample
        in_shape, out_shape = (data_shape[0] * spec.pack, *data_shape[1:]), (outputs,)
    if spec.output == "categorical":  # logits: no output activation
        out_range = None
        if len(data_shape) != 1:
            raise ConfigError(f"a categorical generator emits one-hot vectors; the data has shape {data_shape}", (*path, "output"))
    net = build(spec.net, networks, (*path, "net"), in_shape=in_shape, out_shape=out_shape, role=spec.role, out_range=out_range)
    if not isinstance(net, torch.nn.Module):
        raise ConfigError(f"the network is a {type(net).__name__}, not a torch.nn.Module", (*path, "net"))
    return net, latent, observation_space, action_space


# Optimizer state per parameter, in parameter-sized tensors.
_OPTIMIZER_SLOTS = {"adam": 2, "sgd": 1, "rmsprop": 2}


def estimate_agent_bytes(spec: AgentSpec, data_space: gym.spaces.Box, path: tuple = (), outputs: int = 1) -> tuple[int, int]:
    """``(parameters, bytes)`` one agent of ``spec`` needs for weights, gradients and optimizer
    state, found by building its network on the ``meta`` device (nothing is allocated)."""
    with torch.device("meta"):
        net, *_ = _family_net(spec, data_space, path, None) if spec.members > 1 else _network(spec, data_space, path, outputs)
    params = sum(p.numel() for p in net.parameters())
    buffers = sum(b.numel() for b in net.buffers())
    slots = _OPTIMIZER_SLOTS.get(str(spec.optim.get("type", "adam")), 2)
    if spec.ema is not None:
        slots += 1  # the averaged weights
    return params, 4 * (params * (2 + slots) + buffers)


def build_agent(
    spec: AgentSpec,
    name: str,
    data_space: gym.spaces.Box,
    seed: int,
    device: torch.device | str = "cpu",
    path: tuple = (),
    outputs: int = 1,
) -> Agent:
    """Build one agent of ``spec``.

    The network is initialised on the CPU from ``seed`` alone (so the initial weights do not
    depend on the device or on which agents were built before), then moved to ``device``.

    Args:
        spec: the agent's config entry.
        name: this copy's name.
        data_space: the data's space: a generator emits into it, a discriminator observes it.
        seed: the agent's own seed, derived from the master seed and ``name``.
        device: where the agent lives.
        path: key path of ``spec`` in the config, for error messages.
        outputs: discriminators only: logits per input (1; more for games such as ``madgan-v0``).
    """
    device = torch.device(device)
    if spec.members > 1:
        net, latent, observation_space, action_space = _family_net(spec, data_space, path, seed)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net, latent, observation_space, action_space = _network(spec, data_space, path, outputs)
    net = net.to(device)
    optimizer = build(spec.optim, optimizers, (*path, "optim"), params=list(net.parameters()))
    common = dict(
        observation_space=observation_space,
        action_space=action_space,
        seed=seed + 1,
        device=device,
    )
    if spec.role == "generator":
        cls = CategoricalGenerator if spec.output == "categorical" else Generator
        generator = cls(name, net, optimizer, latent=latent, **common)
        if spec.ema is not None:
            generator.use_ema(spec.ema, seed + 2)
        generator.members = [FamilyMember(generator, k, member) for k, member in enumerate(member_names(name, spec))]
        return generator
    return Discriminator(name, net, optimizer, pack=spec.pack, **common)
