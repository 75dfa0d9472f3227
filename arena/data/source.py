"""The real data of a run (the "nature" player).

A :class:`DataSource` holds its splits as float32 tensors of shape ``(N, *shape)``, declares
its gymnasium space (the value range generators must emit into) and its kind
(:mod:`arena.data.kinds`), which owns everything that depends on the kind of data.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from arena.core.errors import DataError
from arena.data.kinds import DataKind, Points
from arena.data.stream import DataStream

__all__ = ["DataSource"]


def _finite(x: torch.Tensor, rows: int = 4096) -> bool:
    """Whether every value of ``x`` is finite, a block of rows at a time (``isfinite`` of a whole
    split would cost several copies of it: 1.4 GB for 20,000 images of 64 x 64)."""
    if not x.is_floating_point():
        return True
    return all(bool(torch.isfinite(x[i:i + rows]).all()) for i in range(0, x.shape[0], rows))


class DataSource:
    """Real data, split into ``train`` and ``test`` (and, where the protocol has one, ``valid``).

    Args:
        name: the source's id.
        splits: split name -> float32 tensor ``(N, *shape)``, or a stand-in that reads its rows
            from disk as they are drawn (:class:`arena.data.folder.ImageRows`: its shape,
            slices and ``index_select`` give the float tensors).
        low: lower bound of every value, or None when unbounded.
        high: upper bound of every value, or None when unbounded.
        kind: the kind of data (default: vectors without known structure).
        info: anything worth recording (file paths, sizes); nothing reads it.
        labels: class labels (int64, one per sample) of each split, where the data has them.
        finite: the caller vouches that every value is finite (pixels converted from bytes), and
            the check of every value (a second or more for a large split) is skipped; a stand-in
            split (``ImageRows``) is passed only so.
    """

    def __init__(
        self,
        name: str,
        splits: dict[str, torch.Tensor],
        low: float | None = None,
        high: float | None = None,
        kind: DataKind | None = None,
        info: dict[str, Any] | None = None,
        labels: dict[str, torch.Tensor] | None = None,
        finite: bool = False,
    ) -> None:
        for split, x in splits.items():
            if x.ndim < 2 or x.shape[0] == 0:
                raise DataError(f"{name}: split {split!r} is empty or has no feature dimension (shape {tuple(x.shape)})")
            if not (finite or _finite(x)):
                raise DataError(f"{name}: split {split!r} holds NaN or infinite values")
        shapes = {tuple(x.shape[1:]) for x in splits.values()}
        if len(shapes) != 1:
            raise DataError(f"{name}: splits have different shapes {sorted(shapes)}")
        self.name = name
        self.splits = {k: v.to(torch.get_default_dtype()).contiguous() for k, v in splits.items()}
        self.shape: tuple[int, ...] = shapes.pop()
        self.low, self.high = low, high
        self.kind = kind if kind is not None else Points()
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

    def stream(self, batch_size: int, seed: int) -> DataStream:
        """The stream of training batches matches draw from (:class:`arena.data.DataStream`)."""
        return DataStream(self.train, batch_size, seed)

    def to(self, device: torch.device | str) -> DataSource:
        self.splits = {k: v.to(device) for k, v in self.splits.items()}
        self.labels = {k: v.to(device) for k, v in self.labels.items()}
        self.kind = self.kind.to(device)
        return self

    def describe(self) -> str:
        sizes = ", ".join(f"{k} {v.shape[0]:,}" for k, v in self.splits.items())
        return f"{self.name}: {self.kind} of shape {self.shape} ({sizes})"
