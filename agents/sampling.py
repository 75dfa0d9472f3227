"""What samples, drawing samples for measurement, and evaluation mode for a block of code.

:class:`Sampler` is what anything that draws samples is to its readers: a generator, its weight
average (:class:`agents.AveragedGenerator`), a mixture of generators, the panel's filter over one.
:func:`draw_samples` is how everything that measures, judges or pictures a generator (a review,
``arena sample`` and ``arena eval``, the panel's calibration, the report) draws its samples;
:func:`evaluating` is the one way code puts agents in evaluation mode for a while.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable

import torch

__all__ = ["Sampler", "draw_samples", "evaluating"]


@runtime_checkable
class Sampler(Protocol):
    """Anything that draws samples: what ``Run.generator``, ``arena sample --mixture`` and the
    measurements read. It has a name and a device, a training mode it can be taken out of (for
    batch normalisation), and draws ``n`` samples from a random stream (its own where ``generator``
    is None)."""

    name: str
    device: torch.device

    @property
    def training(self) -> bool: ...

    def train(self, mode: bool = True) -> Sampler: ...

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor: ...


@contextmanager
def evaluating(*agents: Any) -> Iterator[None]:
    """Every one of ``agents`` in evaluation mode inside the block, each back in its own mode
    after it (also when the block raises). Anything with ``training`` and ``train(mode)``:
    agents, mixtures, the panel's sampler, ``torch.nn.Module``."""
    modes = [a.training for a in agents]
    for a in agents:
        a.train(False)
    try:
        yield
    finally:
        for a, mode in zip(agents, modes):
            a.train(mode)


def draw_samples(generator: Sampler, n: int, seed: int, batch: int = 2500) -> torch.Tensor:
    """``n`` samples of ``generator`` (a generator or a mixture) in eval mode, from a random
    stream of their own (``seed``), in batches of ``batch``; the generator's mode and its own
    stream are left as they were. With ``n <= batch`` these are exactly the samples of
    ``arena sample -n n --seed seed``."""
    rng = torch.Generator(device=generator.device).manual_seed(seed)
    with evaluating(generator), torch.no_grad():
        parts = [generator.sample(min(batch, n - i), rng) for i in range(0, n, batch)]
    return torch.cat(parts)
