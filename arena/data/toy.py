"""The generated sources: PacGAN's toy mixtures, the paper's 1-D Gaussian, categorical symbols."""

from __future__ import annotations

import math
from typing import Annotated

import torch

from arena.core.errors import ConfigError
from arena.core.registry import Ge, Gt
from arena.core.resources import human_bytes, memory_limit
from arena.data.kinds import Categorical, Density1D, ToyMixture
from arena.data.source import DataSource

__all__ = ["ring8", "grid25", "gaussian1d", "categorical", "mixture_centers"]


def mixture_centers(name: str, **kw: float) -> torch.Tensor:
    """Centres of the toy mixtures, exactly as REFERENCE.md defines them.

    ring8: ``(r cos 2 pi k / K, r sin 2 pi k / K)`` for ``k = 0..K-1`` (K distinct angles; note that
    ``linspace(0, 2 pi, K)`` would repeat the first). grid25: ``{-4, -2, 0, 2, 4}^2``.
    """
    if name == "ring":
        k = int(kw["modes"])
        angles = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
        return (kw["radius"] * torch.stack([angles.cos(), angles.sin()], 1)).float()
    side, spacing = int(kw["side"]), kw["spacing"]
    ticks = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(ticks, ticks).float()


def _check_size(sizes: dict[str, int], dim: int) -> None:
    """Refuse to generate more points than memory holds (before allocating them)."""
    need = sum(sizes.values()) * (4 * dim + 8)
    limit = memory_limit("cpu")
    budget = int(limit.bytes * 0.8)
    if need > budget:
        key = max(sizes, key=sizes.get)
        raise ConfigError(
            f"{sum(sizes.values()):,} points need about {human_bytes(need)}, more than the {human_bytes(budget)} "
            f"this machine can spare (80% of the {human_bytes(limit.bytes)} of {limit.source})",
            (f"{key}_size",),
        )


def _mixture(name: str, centers: torch.Tensor, std: float, sizes: dict[str, int], seed: int) -> DataSource:
    _check_size(sizes, centers.shape[1])
    g = torch.Generator().manual_seed(seed)
    splits = {}
    for split, n in sizes.items():
        which = torch.randint(len(centers), (n,), generator=g)
        splits[split] = centers[which] + std * torch.randn(n, centers.shape[1], generator=g)
    return DataSource(name, splits, kind=ToyMixture(centers, std), info={"modes": len(centers), "std": std})


def ring8(
    seed: int,
    train_size: Annotated[int, Gt(0)] = 100_000,
    test_size: Annotated[int, Gt(0)] = 10_000,
    modes: Annotated[int, Ge(2)] = 8,
    radius: Annotated[float, Gt(0)] = 1.0,
    std: Annotated[float, Gt(0)] = 0.01,
) -> DataSource:
    """PacGAN's ring: 8 Gaussians on the unit circle, std 0.01.

    Args:
        train_size: training points (PacGAN: 100,000).
        test_size: held-out points.
        modes: number of components.
        radius: ring radius (VEEGAN uses 2).
        std: standard deviation of each component (VEEGAN uses 0.02).
    """
    centers = mixture_centers("ring", modes=modes, radius=radius)
    return _mixture("ring8", centers, std, {"train": train_size, "test": test_size}, seed)


def grid25(
    seed: int,
    train_size: Annotated[int, Gt(0)] = 100_000,
    test_size: Annotated[int, Gt(0)] = 10_000,
    side: Annotated[int, Ge(2)] = 5,
    spacing: Annotated[float, Gt(0)] = 2.0,
    std: Annotated[float, Gt(0)] = 0.05,
) -> DataSource:
    """PacGAN's grid: 25 Gaussians at ``{-4, -2, 0, 2, 4}^2``, std 0.05.

    Args:
        train_size: training points (PacGAN: 100,000).
        test_size: held-out points.
        side: components per side.
        spacing: distance between neighbouring centres.
        std: standard deviation of each component.
    """
    centers = mixture_centers("grid", side=side, spacing=spacing)
    return _mixture("grid25", centers, std, {"train": train_size, "test": test_size}, seed)


def gaussian1d(
    seed: int,
    train_size: Annotated[int, Gt(0)] = 100_000,
    test_size: Annotated[int, Gt(0)] = 10_000,
    mean: float = 4.0,
    std: Annotated[float, Gt(0)] = 0.5,
) -> DataSource:
    """One Gaussian on the line, as in the paper's Figure 1.

    Args:
        train_size: training points.
        test_size: held-out points.
        mean: its mean.
        std: its standard deviation.
    """
    _check_size({"train": train_size, "test": test_size}, 1)
    g = torch.Generator().manual_seed(seed)
    splits = {s: mean + std * torch.randn(n, 1, generator=g) for s, n in (("train", train_size), ("test", test_size))}
    return DataSource("gaussian1d", splits, kind=Density1D(mean, std), info={"mean": mean, "std": std})


def categorical(
    seed: int,
    probs: list[Annotated[float, Ge(0)]] | None = None,
    train_size: Annotated[int, Gt(0)] = 10_000,
    test_size: Annotated[int, Gt(0)] = 2_500,
) -> DataSource:
    """Discrete data: one-hot vectors of K symbols drawn with probabilities ``probs`` (default:
    8 symbols with probabilities proportional to 8, 7, ..., 1). A generator cannot be trained by
    backpropagation through such samples; ``reinforce-v0`` trains a categorical policy instead.

    Args:
        probs: the symbols' probabilities (normalised to sum 1).
        train_size: training samples.
        test_size: held-out samples.
    """
    weights = torch.tensor(probs if probs is not None else [8.0 - i for i in range(8)], dtype=torch.float64)
    if weights.numel() < 2 or float(weights.sum()) <= 0:
        raise ConfigError("expected at least 2 probabilities with a positive sum", ("probs",))
    weights = weights / weights.sum()
    g = torch.Generator().manual_seed(seed)
    k = weights.numel()
    splits = {
        s: torch.nn.functional.one_hot(torch.multinomial(weights, n, replacement=True, generator=g), k).float()
        for s, n in (("train", train_size), ("test", test_size))
    }
    return DataSource("categorical", splits, low=0.0, high=1.0, kind=Categorical(weights.tolist()), info={"probs": weights.tolist()})
