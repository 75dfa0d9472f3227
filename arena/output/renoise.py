"""The discriminator panel's noise stage (:mod:`arena.output.panel`): the data's own noise, put back
on refined samples.

Refinement climbs every candidate up the panel's logit, and climbed far enough it ends within a
step of a maximum: it acts as a denoiser, and every mode contracts to a point (on grid25 the
output's high-quality samples sat at 0.4 of the data's spread about the modes). **Renoise**
measures what that denoiser takes away from *real* data and gives it back: the held-out real
samples are refined exactly as the candidates are, and each keeps its residual ``x - refine(x)``.
An output sample ``y`` (refined and accepted) becomes ``y + e``, ``e`` drawn from the Gaussian
fitted to the residuals of the ``k`` held-out samples whose refined points lie nearest ``y``: their
mean (which undoes a maximum that sits off the middle of real data's mass) and their covariance
(the data's spread there). Where real samples near a maximum all climb to it, ``y + e`` is spread
as the data is about it.

It uses only the held-out split and the panel, no knowledge of the modes, and copies no real
sample: ``e`` is a fresh Gaussian draw, ``mean + C^T w / sqrt(k - 1)`` with ``C`` the ``k`` centred
residuals and ``w ~ N(0, I_k)``, which has exactly their mean and sample covariance without forming
a ``d x d`` matrix. Like the balance it is meant for low-dimensional data, where ``k`` neighbours
describe a neighbourhood.
"""

from __future__ import annotations

import math

import torch

__all__ = ["LocalNoise"]


class LocalNoise:
    """Gaussian noise fitted, around each point, to the residuals of its nearest refined real samples.

    Args:
        refined: held-out real samples after the panel's refinement (where the neighbours are sought).
        residuals: those samples less their refined points, ``real - refined``.
        neighbours: ``k``, the residuals each draw is fitted to (at least 2; at most all of them).
    """

    def __init__(self, refined: torch.Tensor, residuals: torch.Tensor, neighbours: int, chunk: int = 1024) -> None:
        if refined.shape != residuals.shape:
            raise ValueError(f"refined points {tuple(refined.shape)} and residuals {tuple(residuals.shape)} differ")
        if neighbours < 2:
            raise ValueError(f"a Gaussian is fitted to at least 2 residuals, got neighbours={neighbours}")
        self.refined = refined.detach().flatten(1)
        self.residuals = residuals.detach().flatten(1)
        self.neighbours = min(neighbours, self.refined.shape[0])
        self.chunk = chunk

    def neighbourhoods(self, y: torch.Tensor) -> torch.Tensor:
        """``(N, k)``: the indices of the ``k`` refined real samples nearest each of ``y``."""
        flat = y.detach().flatten(1).to(self.refined.device, self.refined.dtype)
        return torch.cdist(flat, self.refined).topk(self.neighbours, largest=False).indices

    def __call__(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``y`` plus one draw of its neighbourhood's Gaussian each (from ``generator``'s stream),
        ``chunk`` samples at a time."""
        out = []
        for block in torch.split(y, self.chunk):
            r = self.residuals[self.neighbourhoods(block)]  # (n, k, d)
            mean = r.mean(1)
            w = torch.randn((block.shape[0], 1, self.neighbours), generator=generator, device=r.device, dtype=r.dtype)
            e = mean + (w @ (r - mean.unsqueeze(1))).squeeze(1) / math.sqrt(self.neighbours - 1)
            out.append(block + e.to(block.device, block.dtype).reshape(block.shape))
        return torch.cat(out) if out else y
