"""Geometry of point sets: k-nearest-neighbour manifolds and what they measure.

A :class:`Manifold` is a set of points with the radius of each one's k-NN ball (Kynkaanniemi et al.,
2019). Improved precision and recall and density and coverage (Naeem et al., 2020) read generated
and real sets through it; the panel's support stage and the ``manifold`` and ``density-coverage``
judgements use it too.
"""

from __future__ import annotations

import torch

__all__ = ["Manifold", "precision_recall", "density_coverage"]


class Manifold:
    """A set of points and the radius of each one's k-nearest-neighbour ball (Kynkaanniemi et al.,
    2019): the union of the balls estimates the set's manifold. The radii are computed once, so
    one real set can be compared with any number of generated ones; distances in chunks of
    ``chunk`` rows, so that memory stays linear in the set's size."""

    def __init__(self, points: torch.Tensor, k: int = 3, chunk: int = 1024) -> None:
        self.points = points.flatten(1).double()
        if self.points.shape[0] <= k:
            raise ValueError(f"precision and recall with k = {k} need more than {k} points in each set")
        self.k, self.chunk = k, chunk
        # k + 1: every point is its own nearest neighbour, at distance 0
        self.radii = torch.cat([torch.cdist(part, self.points).topk(k + 1, dim=1, largest=False).values[:, k]
                                for part in self.points.split(chunk)])

    def inside(self, points: torch.Tensor) -> torch.Tensor:
        """Whether each of ``points`` lies within the radius of at least one of the set's points."""
        x = points.flatten(1).double().to(self.points.device)
        return torch.cat([(torch.cdist(part, self.points) <= self.radii).any(1) for part in x.split(self.chunk)])

    def share_inside(self, points: torch.Tensor) -> float:
        """The share of ``points`` within the radius of at least one of the set's points."""
        return float(self.inside(points).double().mean())

    def hits(self, points: torch.Tensor) -> torch.Tensor:
        """For each of the set's points, how many of ``points`` lie within its radius."""
        x = points.flatten(1).double().to(self.points.device)
        return torch.cat([(torch.cdist(part, x) <= radii[:, None]).sum(1)
                          for part, radii in zip(self.points.split(self.chunk), self.radii.split(self.chunk))])


def precision_recall(real: torch.Tensor | Manifold, fake: torch.Tensor, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkaanniemi et al., 2019) with k-NN balls in feature space.

    Precision: the share of generated samples inside the real manifold (the union of balls around
    real samples reaching their k-th neighbour); recall: the share of real samples inside the
    generated manifold. ``real`` may be a :class:`Manifold` already built (its own ``k``), to
    compare one real set with many generated ones.
    """
    real = real if isinstance(real, Manifold) else Manifold(real, k)
    return {"precision": real.share_inside(fake), "recall": Manifold(fake, real.k, real.chunk).share_inside(real.points)}


def density_coverage(real: torch.Tensor | Manifold, fake: torch.Tensor, k: int = 3) -> dict[str, float]:
    """Density and coverage (Naeem et al., 2020) with the real samples' k-NN balls.

    Coverage: the share of real samples whose ball holds at least one generated sample. Where the
    generator's density is ``r`` times the data's, a real sample's ball holds about ``k r``
    generated samples (as many of each set are drawn), so coverage is about
    ``E_real[1 - exp(-k r)]``: it falls where modes are missing (``r = 0``), where mass leaks off
    the data (``r < 1`` on it) and, being concave in ``r``, where modes are unevenly covered.
    Density: the mean number of real balls holding a generated sample, over ``k`` (about 1 for
    samples on the data, 0 off it; above 1 where samples crowd the densest regions).
    """
    real = real if isinstance(real, Manifold) else Manifold(real, k)
    hits = real.hits(fake)
    return {"density": float(hits.sum()) / (real.k * fake.shape[0]), "coverage": float((hits > 0).double().mean())}
