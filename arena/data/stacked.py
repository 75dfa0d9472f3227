"""Stacked MNIST: three digits, one per colour channel, 1,000 modes (the digit triples).

Every sample stacks three digit images drawn independently and uniformly, with replacement, from
a base digit set (the bundled ``mnist5k`` by default, or full ``mnist``): 3 x 28 x 28 in [-1, 1].
Training batches are drawn afresh from the run's seeded data stream (:class:`StackedStream`), so
a generator never sees the same triple twice by design; the held-out split is built the same way
from the base's test split, once, from a fixed seed.

The triples' digit labels are never stored: nothing that trains, chooses, weights or filters can
read them. The judging metric (:mod:`arena.evaluation.digits`) classifies each channel of a
sample with a digit classifier trained on the base's training split, which the data kind hands
it (:meth:`arena.data.kinds.StackedDigits.digits`).
"""

from __future__ import annotations

import copy
from typing import Annotated, Any, Literal

import torch

from arena.core.errors import DataError
from arena.core.registry import Gt
from arena.data.kinds import StackedDigits
from arena.data.source import DataSource
from arena.data.stream import DataStream

__all__ = ["stacked_mnist", "StackedSource", "StackedStream", "stack"]

_HELD_OUT_SEED = 19980611  # fixed: runs with different seeds are judged against the same held-out triples


def stack(digits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The stacked images of ``index`` ``(N, 3)`` rows of ``digits`` ``(M, 1, H, W)``: ``(N, 3, H, W)``."""
    return digits[index.reshape(-1)].reshape(index.shape[0], 3, *digits.shape[2:])


def _triples(n: int, pool: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(pool, (n, 3), generator=generator)


class StackedStream(DataStream):
    """Batches of stacked digits drawn afresh: batch ``k`` of a stream stacks three independent
    uniform draws per sample from a generator seeded by the stream's seed and ``k``, so skipping
    batches is free, forks are exact, and a resumed run draws what an uninterrupted one would.

    Args:
        digits: the base's training images ``(M, 1, H, W)``.
        batch_size: samples per batch.
        seed: the stream's seed.
    """

    def __init__(self, digits: torch.Tensor, batch_size: int, seed: int) -> None:
        self.digits = digits
        self.data = digits  # what DataStream's readers ask for (its device, its type of values)
        self.batch_size = batch_size
        self.seed = int(seed)
        self.batch = 0
        self.epoch = 0

    def next_index(self) -> torch.Tensor:
        """The ``(batch, 3)`` base rows of the next batch."""
        g = torch.Generator().manual_seed((self.seed ^ (self.batch * 0x9E3779B97F4A7C15)) & (2**63 - 1))
        self.batch += 1
        return _triples(self.batch_size, self.digits.shape[0], g).to(self.digits.device)

    def next(self) -> torch.Tensor:
        return stack(self.digits, self.next_index())

    def advance(self, batches: int) -> None:
        self.batch += batches

    def fork(self, skip: int = 0) -> StackedStream:
        twin = copy.copy(self)
        twin.batch = self.batch + skip
        return twin

    def state_dict(self) -> dict[str, Any]:
        return {"batch": self.batch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.batch = int(state["batch"])


class StackedSource(DataSource):
    """A data source whose training batches are stacked afresh (:class:`StackedStream`); its
    ``train`` split is a fixed draw of stacked triples, for what needs a tensor of examples
    (pre-flight shape checks, sizes)."""

    def __init__(self, base: DataSource, splits: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
        super().__init__("stacked-mnist", splits, -1.0, 1.0, kind=StackedDigits(base), info=info)
        self.base_train = base.train

    def stream(self, batch_size: int, seed: int) -> DataStream:
        return StackedStream(self.base_train, batch_size, seed)

    def to(self, device: torch.device | str) -> StackedSource:
        super().to(device)
        self.base_train = self.base_train.to(device)
        return self


def stacked_mnist(
    seed: int,
    base: Literal["mnist5k", "mnist"] = "mnist5k",
    root: str = "data/mnist",
    train_size: Annotated[int, Gt(0)] = 10_000,
    test_size: Annotated[int, Gt(0)] = 10_000,
) -> StackedSource:
    """Stacked MNIST over a base digit set, in [-1, 1].

    Args:
        base: ``mnist5k`` (bundled, 4,000 training and 1,000 test digits, offline) or ``mnist``
            (IDX files with their label files in ``root``).
        root: the MNIST directory, for ``base: mnist``.
        train_size: stacked examples kept as the ``train`` split (training batches are drawn afresh).
        test_size: held-out stacked examples, built from the base's test split.
    """
    from arena.data import files

    digits = files.mnist5k(seed, range="symmetric") if base == "mnist5k" else files.mnist(seed, root, range="symmetric")
    if not digits.labels or "train" not in digits.labels:
        raise DataError(f"stacked-mnist judges samples with a digit classifier trained on the base's labels, and {base} "
                        f"in {root} has none (put the IDX label files beside the images)")
    g = torch.Generator().manual_seed(_HELD_OUT_SEED)
    splits = {"train": stack(digits.train, _triples(train_size, digits.train.shape[0], g)),
              "test": stack(digits.test, _triples(test_size, digits.test.shape[0], g))}
    return StackedSource(digits, splits, {"base": base, "base_train": int(digits.train.shape[0]),
                                          "base_test": int(digits.test.shape[0])})
