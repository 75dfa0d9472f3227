"""A game against a frozen discriminator, as a gymnasium environment.

A generator that cannot be trained by backpropagation through the discriminator (one that
emits discrete symbols, or any black-box sampler) can still play: it observes a latent draw,
acts by emitting a sample in the data space, and is rewarded by the discriminator's score of
that sample. Each episode is one step.

- :class:`GeneratorEnv` is a ``gymnasium.Env`` (one sample per step); it passes
  ``gymnasium.utils.env_checker.check_env``.
- :class:`GeneratorVectorEnv` is the batched ``gymnasium.vector.VectorEnv`` of the same
  game (one sample per sub-environment, all scored in one forward pass); policy-gradient
  games use it.
"""

from __future__ import annotations

from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv

from agents import Discriminator, LatentPrior, evaluating
from games.base import Game

__all__ = ["GeneratorEnv", "GeneratorVectorEnv"]

Reward = Literal["logit", "log_d"]


class _Scorer:
    """What both environments share: the spaces and the discriminator's score of samples."""

    def __init__(
        self,
        discriminator: Discriminator,
        latent: LatentPrior,
        data_space: gym.spaces.Box,
        game: Game | None,
        categorical: bool,
        reward: Reward,
    ) -> None:
        self.discriminator = discriminator
        self.latent = latent
        self.data_space = data_space
        self.game = game
        self.categorical = categorical
        self.reward_kind = reward
        self.obs_space = gym.spaces.Box(-np.inf, np.inf, (latent.dim,), np.float32)
        if categorical:
            self.act_space: gym.spaces.Space = gym.spaces.Discrete(int(data_space.shape[0]))
        else:
            self.act_space = gym.spaces.Box(data_space.low, data_space.high, data_space.shape, np.float32)

    def samples(self, actions: Any) -> torch.Tensor:
        device = self.discriminator.device
        if self.categorical:
            idx = torch.as_tensor(np.asarray(actions, dtype=np.int64), device=device).reshape(-1)
            return torch.nn.functional.one_hot(idx, self.act_space.n).float()
        x = torch.as_tensor(np.asarray(actions, dtype=np.float32), device=device)
        return x.reshape(-1, *self.data_space.shape)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """The reward of each sample: D's "real" logit, or ``log D``; D is frozen and in eval mode."""
        d = self.discriminator
        with evaluating(d), torch.no_grad():
            out = d(x)
            logit = self.game.realness(out) if self.game is not None else out.reshape(out.shape[0], -1)[:, 0]
        return -torch.nn.functional.softplus(-logit) if self.reward_kind == "log_d" else logit

    def draw(self, n: int, rng: torch.Generator) -> np.ndarray:
        z = self.latent.sample(n, rng, torch.device("cpu") if rng.device.type == "cpu" else rng.device)
        return z.detach().cpu().numpy().astype(np.float32)


class GeneratorEnv(gym.Env):
    """One generator move against a frozen discriminator.

    Observation: a latent draw ``z`` from ``latent`` (a ``Box`` of the latent's size). Action: a
    sample in the data space (``Discrete(K)`` for one-hot data when ``categorical``, else the
    data's ``Box``). Reward: the discriminator's score of the sample (its "real" logit, or
    ``log D``). The episode ends after one step.

    Args:
        discriminator: the opponent; its parameters are never changed here.
        latent: the prior of the observations.
        data_space: the data's space.
        game: the game whose ``realness`` reads the discriminator's output (default: one logit).
        categorical: actions are symbol indices of one-hot data.
        reward: ``logit`` or ``log_d``.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        discriminator: Discriminator,
        latent: LatentPrior,
        data_space: gym.spaces.Box,
        game: Game | None = None,
        categorical: bool = False,
        reward: Reward = "logit",
    ) -> None:
        self._scorer = _Scorer(discriminator, latent, data_space, game, categorical, reward)
        self.observation_space = self._scorer.obs_space
        self.action_space = self._scorer.act_space
        self._rng = torch.Generator()
        self._obs: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._rng.manual_seed(int(self.np_random.integers(2**62)))
        self._obs = self._scorer.draw(1, self._rng)[0]
        return self._obs.copy(), {}

    def step(self, action):
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        reward = float(self._scorer.scores(self._scorer.samples([action] if self._scorer.categorical else action))[0])
        self._obs = None
        observation = self._scorer.draw(1, self._rng)[0]  # the next latent draw; the episode has ended
        return observation, reward, True, False, {}


class GeneratorVectorEnv(VectorEnv):
    """``num_envs`` copies of :class:`GeneratorEnv` stepped at once (one forward pass of D).

    Every step ends every episode; with ``AutoresetMode.SAME_STEP`` the observations returned
    are the next latent draws. Latents come from ``rng`` (the generator's own stream in a
    tournament) or, without one, from a stream seeded by ``reset(seed=...)``.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        discriminator: Discriminator,
        latent: LatentPrior,
        data_space: gym.spaces.Box,
        num_envs: int,
        game: Game | None = None,
        categorical: bool = False,
        reward: Reward = "logit",
        rng: torch.Generator | None = None,
    ) -> None:
        self._scorer = _Scorer(discriminator, latent, data_space, game, categorical, reward)
        self.num_envs = num_envs
        self.single_observation_space = self._scorer.obs_space
        self.single_action_space = self._scorer.act_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self._rng = rng if rng is not None else torch.Generator()
        self._own_rng = rng is None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seed)
            if self._own_rng:
                self._rng.manual_seed(int(self.np_random.integers(2**62)))
        return self._scorer.draw(self.num_envs, self._rng), {}

    def step(self, actions):
        rewards = self._scorer.scores(self._scorer.samples(actions)).cpu().numpy().astype(np.float64)
        done = np.ones(self.num_envs, dtype=bool)
        return self._scorer.draw(self.num_envs, self._rng), rewards, done, np.zeros_like(done), {}
