"""Agents: one player each, a generator or a discriminator.

An agent owns its network, its optimizer, its random stream and its step count, and
declares gymnasium spaces for what it observes and what it emits. Games ask agents for
their spaces rather than guessing shapes.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.ema import EMASpec, WeightAverage
from agents.latent import LatentPrior
from agents.optim import AgentOptimizer

__all__ = ["Agent", "Generator", "AveragedGenerator", "CategoricalGenerator", "Discriminator", "LOGIT_SPACE", "pack_samples"]

LOGIT_SPACE = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
"""What a discriminator emits: one logit per input."""

A = TypeVar("A", bound="Agent")


class Agent:
    """One player.

    Args:
        name: unique name in the arena (``g0``, ``d3``).
        net: the network.
        optimizer: the optimizer over ``net``'s parameters.
        observation_space: what the agent observes (a latent vector, or a data point).
        action_space: what it emits (a data point, or a logit).
        seed: seed of the agent's own random stream.
        device: where the network and the stream live.
    """

    role: ClassVar[str] = ""

    def __init__(
        self,
        name: str,
        net: nn.Module,
        optimizer: AgentOptimizer,
        observation_space: gym.spaces.Box,
        action_space: gym.spaces.Box,
        seed: int,
        device: torch.device,
    ) -> None:
        self.name = name
        self.net = net
        self.optimizer = optimizer
        self.observation_space = observation_space
        self.action_space = action_space
        self.device = torch.device(device)
        self.seed = seed
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(seed)
        self.extras: dict[str, torch.Tensor] = {}
        """Small tensors a game keeps for this agent (GMAN's learned lambda); saved with its state."""
        self.forward: Callable[[torch.Tensor], torch.Tensor] = net
        """What maps inputs to outputs: the network, or a compiled version of it (:meth:`use_forward`)."""
        self.scaler: torch.amp.GradScaler | None = None
        """The loss scaler of fp16 training (:meth:`use_loss_scaling`); None in fp32 and bf16."""
        self.frozen = False
        """A frozen agent (a league's snapshot, :meth:`frozen_copy`) plays but never learns."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {type(self.net).__name__}, steps={self.steps})"

    @property
    def steps(self) -> int:
        """Optimizer steps taken so far."""
        return self.optimizer.steps

    def parameters(self):
        return self.net.parameters()

    @property
    def training(self) -> bool:
        return self.net.training

    def train(self: A, mode: bool = True) -> A:
        self.net.train(mode and not self.frozen)  # a frozen agent stays in evaluation mode
        return self

    def eval(self: A) -> A:
        return self.train(False)

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    # ------------------------------------------------------------------ its optimizer, read from outside
    @property
    def optimizer_type(self) -> type[torch.optim.Optimizer]:
        """The class of the torch optimizer (Adam, SGD, ...)."""
        return type(self.optimizer.optimizer)

    @property
    def optimizer_groups(self) -> list[dict[str, Any]]:
        """The optimizer's parameter groups (``lr``, ``betas``, ``momentum``, ... and ``params``)."""
        return self.optimizer.optimizer.param_groups

    def set_hyperparameter(self, key: str, value: Any) -> None:
        """Set ``key`` (``betas``, say) in every parameter group."""
        for group in self.optimizer.optimizer.param_groups:
            group[key] = value

    def optimizer_state(self, param: torch.Tensor) -> dict[str, Any]:
        """The optimizer's state of one parameter (empty before its first step)."""
        return self.optimizer.optimizer.state.get(param, {})

    def set_optimizer_state(self, param: torch.Tensor, state: dict[str, Any]) -> None:
        """Replace the optimizer's state of one parameter (stacked steps write theirs back); an
        empty ``state`` drops it, as torch keeps none before a parameter's first step."""
        if state:
            self.optimizer.optimizer.state[param] = state
        else:
            self.optimizer.optimizer.state.pop(param, None)

    def use_forward(self, forward: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Map inputs through ``forward``, a compiled version of the network (it must compute
        what the network computes, with the network's parameters)."""
        self.forward = forward

    def use_loss_scaling(self, scaler: torch.amp.GradScaler) -> None:
        """Scale this agent's losses with ``scaler`` (fp16 training); it is saved with the agent."""
        self.scaler = scaler

    def scaled(self, loss: torch.Tensor) -> torch.Tensor:
        """``loss`` times the loss scale (fp16), ready for ``backward``; ``loss`` itself otherwise.
        Games call ``agent.scaled(loss).backward()``."""
        return self.scaler.scale(loss) if self.scaler is not None else loss

    def step(self) -> None:
        """Apply one optimizer step to the gradients accumulated since :meth:`zero_grad`. With a
        loss scaler the gradients are unscaled first, and a step whose gradients are not finite
        is skipped (the scale is lowered)."""
        if self.frozen:
            return
        if self.scaler is None:
            self.optimizer.step()
        else:
            self.scaler.step(self.optimizer.optimizer)
            self.scaler.update()
            self.optimizer.advance()
        self.after_step()

    def after_step(self) -> None:
        """Called after every optimizer step (also a stacked one); generators average their weights here."""

    def frozen_copy(self, name: str, seed: int) -> Agent:
        """A frozen copy of this agent as it is now, called ``name``: the weights it shows (a
        generator's average where EMA is on), evaluation mode, no gradient, no learning, a random
        stream of its own from ``seed``. Copies play and are rated; they do not train."""
        snap = copy.copy(self)
        snap.name = name
        snap.net = copy.deepcopy(self._shown_net()).eval()
        for p in snap.net.parameters():
            p.requires_grad_(False)
        snap.forward = snap.net
        snap.optimizer = copy.deepcopy(self.optimizer)
        snap.scaler = None
        snap.extras = {k: v.detach().clone() for k, v in self.extras.items()}
        snap.rng = torch.Generator(device=self.device)
        snap.rng.manual_seed(seed)
        snap.seed = seed
        snap.frozen = True
        if hasattr(snap, "ema"):
            snap.ema = None
        return snap

    def _shown_net(self) -> nn.Module:
        return self.net

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: weights and buffers, optimizer, random stream."""
        return {
            "net": self.net.state_dict(),
            "optim": self.optimizer.state_dict(),
            "rng": self.rng.get_state(),
            "extras": {k: v.detach().clone() for k, v in self.extras.items()},
            **({"scaler": self.scaler.state_dict()} if self.scaler is not None else {}),
            **self._extra_state(),
        }

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any], stream: bool = True) -> None:
        """Restore :meth:`state_dict`. A random stream saved on another kind of device cannot be
        restored; it restarts from the agent's seed with a warning. ``stream`` False leaves the
        agent's random stream as it is (reading an agent, not continuing its training)."""
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optim"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        for key, value in state.get("extras", {}).items():
            if key in self.extras:
                with torch.no_grad():
                    self.extras[key].copy_(value)
            else:
                self.extras[key] = value.clone().requires_grad_(value.requires_grad)
        if not stream:
            return
        try:
            self.rng.set_state(state["rng"])
        except RuntimeError:
            warnings.warn(
                f"{self.name}: its random stream was saved on another kind of device; restarting it from its seed",
                RuntimeWarning,
                stacklevel=2,
            )
            self.rng.manual_seed(self.seed)


class Generator(Agent):
    """Observes a latent vector, emits a data point.

    Args:
        latent: the prior the generator draws its input from.
        **kwargs: see :class:`Agent`.
    """

    role = "generator"

    def __init__(self, *args: Any, latent: LatentPrior, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.latent = latent
        self.ema: WeightAverage | None = None
        """The moving average of the weights (:meth:`use_ema`), or None."""
        self.members: list[Any] = []
        """A family's members (:class:`agents.family.FamilyMember`), each judged as a generator of
        its own; empty for a generator alone."""

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.forward(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` latent vectors (from the agent's own stream by default) and map them."""
        z = self.latent.sample(n, self.rng if generator is None else generator, self.device)
        return self.forward(z)

    # ------------------------------------------------------------------ weight averaging
    def use_ema(self, spec: EMASpec, seed: int) -> None:
        """Keep a moving average of the weights (:mod:`agents.ema`), shown by :meth:`output`."""
        self.ema = WeightAverage(self.net, spec, seed)

    def after_step(self) -> None:
        if self.ema is not None:
            self.ema.update(self.net, self.steps)

    def _shown_net(self) -> nn.Module:
        if self.ema is not None:
            self.ema.recompute_batchnorm(self.latent)
            return self.ema.net
        return self.net

    def output(self) -> Generator | AveragedGenerator:
        """The generator as the world sees it: the weight average where EMA is on (its BatchNorm
        statistics recomputed for it first), else the generator itself."""
        if self.ema is None:
            return self
        self.ema.recompute_batchnorm(self.latent)
        return AveragedGenerator(self)

    def _extra_state(self) -> dict[str, Any]:
        return {"ema": self.ema.state_dict()} if self.ema is not None else {}

    def load_state_dict(self, state: dict[str, Any], stream: bool = True) -> None:
        super().load_state_dict(state, stream)
        if self.ema is not None:
            if "ema" in state:
                self.ema.load_state_dict(state["ema"])
            else:  # saved without averaging: it starts again from the weights
                self.ema = WeightAverage(self.net, self.ema.spec, self.ema.seed)


class CategoricalGenerator(Generator):
    """A generator whose network emits the logits of a categorical policy; its samples are
    one-hot vectors drawn from it, so no gradient flows through them. Policy-gradient games
    (``reinforce-v0``) train it from the discriminator's scores, through the gymnasium
    adapter :class:`games.GeneratorEnv`."""

    def policy(self, z: torch.Tensor) -> torch.distributions.Categorical:
        return torch.distributions.Categorical(logits=self.forward(z))

    def act(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Category indices drawn from the policy at ``z`` (from the agent's own stream by default)."""
        probs = torch.softmax(self.forward(z).detach(), dim=-1)
        return torch.multinomial(probs, 1, generator=self.rng if generator is None else generator).squeeze(-1)

    def one_hot(self, actions: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(actions, self.action_space.shape[0]).float()

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.one_hot(self.act(z))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        rng = self.rng if generator is None else generator
        z = self.latent.sample(n, rng, self.device)
        return self.one_hot(self.act(z, rng))


class AveragedGenerator:
    """A generator shown through its weight average: what :meth:`Generator.output` returns. It
    samples like the generator (the same latent prior, the same random streams), through the
    averaged network, always in evaluation mode; it does not train."""

    def __init__(self, base: Generator) -> None:
        assert base.ema is not None
        self.base = base
        self.name = base.name
        self.device = base.device
        self.rng = base.rng
        """The generator's own latent stream, which the average draws from too."""
        self.latent = base.latent
        self.net = base.ema.net

    def __repr__(self) -> str:
        return f"AveragedGenerator({self.name!r})"

    @property
    def training(self) -> bool:
        return False

    def train(self, mode: bool = True) -> AveragedGenerator:
        return self

    def eval(self) -> AveragedGenerator:
        return self

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z)
        if isinstance(self.base, CategoricalGenerator):
            probs = torch.softmax(out, dim=-1)
            return self.base.one_hot(torch.multinomial(probs, 1, generator=self.base.rng).squeeze(-1))
        return out

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        rng = self.base.rng if generator is None else generator
        z = self.latent.sample(n, rng, self.device)
        out = self.net(z)
        if isinstance(self.base, CategoricalGenerator):
            probs = torch.softmax(out.detach(), dim=-1)
            return self.base.one_hot(torch.multinomial(probs, 1, generator=rng).squeeze(-1))
        return out


def pack_samples(x: torch.Tensor, m: int) -> torch.Tensor:
    """``(N, C, ...)`` samples as ``(N // m, m * C, ...)`` packs of ``m`` consecutive samples
    (PacGAN); samples beyond the last whole pack are left out."""
    if m == 1:
        return x
    n = (x.shape[0] // m) * m
    return x[:n].reshape(n // m, m * x.shape[1], *x.shape[2:])


class Discriminator(Agent):
    """Observes a data point, emits one logit: large for real, small for generated. With
    ``pack`` > 1 it observes packs of that many samples (PacGAN) and emits one logit per pack.

    Args:
        pack: samples per judged pack.
        **kwargs: see :class:`Agent`.
    """

    role = "discriminator"

    def __init__(self, *args: Any, pack: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pack = pack

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(pack_samples(x, self.pack))
