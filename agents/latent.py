"""Latent priors: where a generator's noise comes from."""

from __future__ import annotations

import abc
from typing import Annotated

import gymnasium as gym
import numpy as np
import torch

from arena.core.errors import ConfigError
from arena.core.registry import Gt, Registry

__all__ = ["LatentPrior", "Normal", "Uniform", "latents"]


class LatentPrior(abc.ABC):
    """A distribution over ``R^dim`` that a generator draws its input from."""

    dim: int

    @abc.abstractmethod
    def sample(self, n: int, generator: torch.Generator, device: torch.device | str) -> torch.Tensor:
        """Draw ``n`` latent vectors as a float32 tensor of shape ``(n, dim)``."""

    @abc.abstractmethod
    def space(self) -> gym.spaces.Box:
        """The gymnasium space of one latent vector."""

    @abc.abstractmethod
    def spec(self) -> dict:
        """The config mapping that rebuilds this prior."""


class Normal(LatentPrior):
    """``N(mean, std^2 I)`` in ``dim`` dimensions.

    Args:
        dim: latent dimension.
        mean: mean of every coordinate.
        std: standard deviation of every coordinate.
    """

    def __init__(self, dim: Annotated[int, Gt(0)], mean: float = 0.0, std: Annotated[float, Gt(0)] = 1.0) -> None:
        self.dim, self.mean, self.std = dim, mean, std

    def sample(self, n, generator, device):
        z = torch.randn(n, self.dim, generator=generator, device=device)
        return z.mul_(self.std).add_(self.mean) if (self.std != 1.0 or self.mean != 0.0) else z

    def space(self):
        return gym.spaces.Box(-np.inf, np.inf, (self.dim,), np.float32)

    def spec(self):
        return {"dist": "normal", "dim": self.dim, "mean": self.mean, "std": self.std}


class Uniform(LatentPrior):
    """Uniform on ``[low, high]^dim``; the paper's MNIST generator uses ``[-sqrt 3, sqrt 3]``.

    Args:
        dim: latent dimension.
        low: lower bound of every coordinate.
        high: upper bound of every coordinate.
    """

    def __init__(self, dim: Annotated[int, Gt(0)], low: float = -1.0, high: float = 1.0) -> None:
        if not high > low:
            raise ConfigError(f"expected high > low, got low={low}, high={high}", ("high",))
        self.dim, self.low, self.high = dim, low, high

    def sample(self, n, generator, device):
        z = torch.rand(n, self.dim, generator=generator, device=device)
        return z.mul_(self.high - self.low).add_(self.low)

    def space(self):
        return gym.spaces.Box(self.low, self.high, (self.dim,), np.float32)

    def spec(self):
        return {"dist": "uniform", "dim": self.dim, "low": self.low, "high": self.high}


latents: Registry[LatentPrior] = Registry("latent prior", key="dist")
latents.register("normal", Normal, "N(mean, std^2) in each coordinate")
latents.register("uniform", Uniform, "uniform on [low, high] in each coordinate")
