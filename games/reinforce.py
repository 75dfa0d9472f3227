"""A policy-gradient game: discrete generators trained by REINFORCE through the gymnasium adapter."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import torch

from agents import CategoricalGenerator, Discriminator
from arena.core.registry import Ge, Gt
from games.base import Shape
from games.classic import NonSaturatingGame
from games.env import GeneratorVectorEnv

__all__ = ["ReinforceGame"]


class ReinforceGame(NonSaturatingGame):
    """The discriminator plays the GAN game (non-saturating loss) on one-hot samples; the
    generator, a categorical policy (``output: categorical``), cannot be differentiated through
    its samples and is trained by REINFORCE instead: it observes latent draws in a
    :class:`~games.GeneratorVectorEnv` against the frozen discriminator, acts by choosing
    symbols, and follows ``(reward - mean reward) * grad log pi(action | z)``.

    Args:
        d_steps: discriminator updates per round.
        reward: ``logit`` (D's "real" logit, ``log D - log(1 - D)``) or ``log_d``.
        entropy: weight of an entropy bonus that keeps the policy from collapsing early.
    """

    generator_kind = "categorical"
    shape = Shape()
    """A pair played one by one: the generator learns by policy gradient, outside the stacked kernels."""

    def __init__(
        self,
        d_steps: Annotated[int, Gt(0)] = 1,
        reward: Literal["logit", "log_d"] = "logit",
        entropy: Annotated[float, Ge(0)] = 0.0,
    ) -> None:
        super().__init__(d_steps)
        self.reward, self.entropy = reward, entropy

    def generator_update(self, generator, discriminator: Discriminator, n: int):
        if not isinstance(generator, CategoricalGenerator):
            from arena.core.errors import ConfigError

            raise ConfigError(f"{self.id or 'reinforce-v0'} trains categorical generators; give {generator.name} output: categorical")
        env = GeneratorVectorEnv(
            discriminator, generator.latent, generator.action_space, n, game=self,
            categorical=True, reward=self.reward, rng=generator.rng,
        )
        obs, _ = env.reset()
        z = torch.as_tensor(obs, device=generator.device)
        actions = generator.act(z)
        _, rewards, *_ = env.step(actions.cpu().numpy())
        r = torch.as_tensor(np.asarray(rewards), dtype=torch.float32, device=generator.device)
        advantage = r - r.mean()
        generator.zero_grad()
        policy = generator.policy(z)
        loss = -(advantage * policy.log_prob(actions)).mean() - self.entropy * policy.entropy().mean()
        generator.scaled(loss).backward()
        generator.step()
        return {"g_loss": loss.detach(), "reward": r.mean()}
