"""Drawing samples for evaluation: in eval mode, from a random stream of their own."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["draw_samples"]


def draw_samples(generator: Any, n: int, seed: int, batch: int = 2500) -> torch.Tensor:
    """``n`` samples of ``generator`` (a generator or a mixture) in eval mode, from a random
    stream of their own (``seed``), in batches of ``batch``; the generator's mode and its own
    stream are left as they were. With ``n <= batch`` these are exactly the samples of
    ``arena sample -n n --seed seed``."""
    was_training = generator.training
    generator.eval()
    rng = torch.Generator(device=generator.device).manual_seed(seed)
    try:
        with torch.no_grad():
            parts = [generator.sample(min(batch, n - i), rng) for i in range(0, n, batch)]
    finally:
        generator.train(was_training)
    return torch.cat(parts)
