"""The stream of real batches a match draws from, and its forks."""

from __future__ import annotations

import copy
from typing import Any

import torch

from arena.core.errors import DataError

__all__ = ["DataStream"]


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
        return self.data.index_select(0, self.next_index())

    def next_index(self) -> torch.Tensor:
        """The rows of :attr:`data` that :meth:`next` returns, drawn as it draws them (so the
        batches of several forks can be gathered at once)."""
        n = self.data.shape[0]
        if self.pos + self.batch_size > self.perm.numel():
            self.perm = torch.randperm(n, generator=self.rng).to(self.data.device)
            self.pos = 0
            self.epoch += 1
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

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
