"""Drawing samples for measurement, and evaluation mode for a block of code.

:func:`draw_samples` is how everything that measures, judges or pictures a generator (a review,
``arena sample`` and ``arena eval``, the panel's calibration, the report) draws its samples;
:func:`evaluating` is the one way code puts agents in evaluation mode for a while.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

__all__ = ["draw_samples", "evaluating"]


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


def draw_samples(generator: Any, n: int, seed: int, batch: int = 2500) -> torch.Tensor:
    """``n`` samples of ``generator`` (a generator or a mixture) in eval mode, from a random
    stream of their own (``seed``), in batches of ``batch``; the generator's mode and its own
    stream are left as they were. With ``n <= batch`` these are exactly the samples of
    ``arena sample -n n --seed seed``."""
    rng = torch.Generator(device=generator.device).manual_seed(seed)
    with evaluating(generator), torch.no_grad():
        parts = [generator.sample(min(batch, n - i), rng) for i in range(0, n, batch)]
    return torch.cat(parts)
