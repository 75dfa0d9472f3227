"""Weight averaging of a generator (Polyak, exponential moving average; Yazici et al., 2019).

After every optimizer step from step ``start`` on, the averaged parameters move towards the
trained ones: ``avg <- decay * avg + (1 - decay) * w`` (before ``start`` they follow ``w``
exactly). The average is what the generator shows the world when EMA is on: evaluation,
cross-play, sampling and the mixture use it; training uses the raw weights, which stay available.

BatchNorm statistics belong to the weights that produced them, so an average of weights with the
raw weights' running statistics is wrong (a probe on ring8: 40 % high quality instead of 86 %).
Before the average is used, :meth:`WeightAverage.recompute_batchnorm` resets its BatchNorm layers
and recomputes their statistics as a plain average over a few batches of fresh latent draws
passed through the averaged network.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Annotated, Any

import torch
from torch import nn

from arena.core.registry import Ge, Gt, Lt

__all__ = ["EMASpec", "WeightAverage"]


@dataclasses.dataclass
class EMASpec:
    """``agents[i].ema``: weight averaging of a generator."""

    decay: Annotated[float, Gt(0), Lt(1)] = 0.99
    """The weight of the past in every update (0.99: an average over about 100 steps)."""
    start: Annotated[int, Ge(0)] = 0
    """Optimizer steps before averaging begins (until then the average is the raw weights)."""
    batchnorm_batches: Annotated[int, Ge(1)] = 20
    """Batches of latent draws over which BatchNorm statistics are recomputed for the average."""
    batchnorm_batch_size: Annotated[int, Ge(2)] = 256
    """Their size."""


def _batchnorms(net: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


class WeightAverage:
    """The moving average of one network.

    Args:
        net: the trained network (the average starts as a copy of it).
        spec: decay, start and the BatchNorm recomputation.
        seed: seed of the latent draws that recompute BatchNorm statistics (they come from a
            generator of their own, so recomputing never disturbs training).
    """

    def __init__(self, net: nn.Module, spec: EMASpec, seed: int) -> None:
        self.spec = spec
        self.seed = seed
        self.net = copy.deepcopy(net)
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.net.eval()
        self.stale = bool(_batchnorms(self.net))
        """Whether the BatchNorm statistics belong to older weights than the average's."""

    @property
    def has_batchnorm(self) -> bool:
        return bool(_batchnorms(self.net))

    @torch.no_grad()
    def update(self, net: nn.Module, step: int) -> None:
        """After optimizer step number ``step`` of ``net``."""
        if step <= self.spec.start:
            for avg, p in zip(self.net.parameters(), net.parameters()):
                avg.copy_(p)
        else:
            weight = 1.0 - self.spec.decay
            for avg, p in zip(self.net.parameters(), net.parameters()):
                avg.lerp_(p, weight)
        self.stale = self.has_batchnorm

    @torch.no_grad()
    def recompute_batchnorm(self, latent) -> None:
        """Recompute the BatchNorm statistics of the averaged network on fresh latent draws
        (``latent``: the generator's prior); a no-op where nothing changed since the last time."""
        if not self.stale:
            return
        layers = _batchnorms(self.net)
        device = next(self.net.parameters()).device
        saved = [m.momentum for m in layers]
        for m in layers:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the batches below
        rng = torch.Generator(device=device).manual_seed(self.seed)
        self.net.train()
        try:
            for _ in range(self.spec.batchnorm_batches):
                self.net(latent.sample(self.spec.batchnorm_batch_size, rng, device))
        finally:
            self.net.eval()
            for m, momentum in zip(layers, saved):
                m.momentum = momentum
        self.stale = False

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "stale": self.stale}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.stale = bool(state.get("stale", self.has_batchnorm))
