"""Metrics on the features of a small classifier trained on the same data set.

The classifier (an MLP, ``input -> 256 -> 128 -> classes``) is trained on the data's
training split with its labels, cached under ``~/.cache/gan-arena/classifiers`` (or
``$GAN_ARENA_CACHE``), and reports its test accuracy. Its 128-d penultimate layer gives the
features for the Frechet distance and for precision and recall (k-nearest-neighbour manifolds,
Kynkaanniemi et al., 2019); its predictions give class coverage.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Classifier",
    "classifier_for",
    "frechet_distance",
    "Manifold",
    "precision_recall",
    "density_coverage",
    "class_coverage",
]


class Classifier(nn.Module):
    """``input -> 256 -> 128 -> classes``, ReLU; :meth:`features` is the 128-d layer."""

    def __init__(self, in_features: int, classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(in_features, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU())
        self.head = nn.Linear(128, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _cache_dir() -> Path:
    return Path(os.environ.get("GAN_ARENA_CACHE", Path.home() / ".cache" / "gan-arena")) / "classifiers"


def _fingerprint(x: torch.Tensor, y: torch.Tensor) -> str:
    h = hashlib.sha256()
    h.update(str(tuple(x.shape)).encode())
    h.update(x[:: max(1, x.shape[0] // 512)].float().cpu().numpy().tobytes())
    h.update(y.cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def train_classifier(x: torch.Tensor, y: torch.Tensor, classes: int, epochs: int = 15, seed: int = 0,
                     progress: Callable[[int, int], None] | None = None) -> Classifier:
    """Adam, batch 128, ``epochs`` passes; deterministic for a given seed. ``progress(done, total)``
    is called after every epoch."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Classifier(x[0].numel(), classes)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(seed)
        for epoch in range(epochs):
            perm = torch.randperm(x.shape[0], generator=g)
            for i in range(0, x.shape[0], 128):
                idx = perm[i : i + 128]
                opt.zero_grad()
                F.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()
            if progress is not None:
                progress(epoch + 1, epochs)
    return model.eval()


def classifier_for(data, cache: bool = True, progress: Callable[[int, int], None] | None = None) -> tuple[Classifier, float]:
    """The data set's classifier (trained once, then loaded from the cache) and its test accuracy;
    ``progress(epoch, epochs)`` follows a training.

    Raises:
        ValueError: the data has no labels.
    """
    if not data.labels:
        raise ValueError(f"{data.name} has no class labels; class-based metrics need them")
    x, y = data.train.cpu(), data.labels["train"].cpu()
    key = f"{data.name}-{_fingerprint(x, y)}.pt"
    path = _cache_dir() / key
    model = Classifier(x[0].numel(), data.num_classes)
    if cache and path.is_file():
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        model.eval()
    else:
        model = train_classifier(x, y, data.num_classes, progress=progress)
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save(model.state_dict(), tmp)
            os.replace(tmp, path)
    with torch.no_grad():
        accuracy = float((model(data.test.cpu()).argmax(1) == data.labels["test"].cpu()).float().mean())
    return model, accuracy


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(m)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` between Gaussians fitted to two feature sets."""
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = torch.cov(a.T), torch.cov(b.T)
    root = _sqrt_psd(s_a)
    cross = torch.linalg.eigvalsh(root @ s_b @ root).clamp_min(0).sqrt().sum()
    return float((mu_a - mu_b).square().sum() + torch.trace(s_a) + torch.trace(s_b) - 2 * cross)


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


def class_coverage(predicted: torch.Tensor, classes: int) -> dict[str, float]:
    """Classes predicted for at least one sample, and KL(class histogram || uniform) = log K - H."""
    counts = torch.bincount(predicted.flatten(), minlength=classes).double()
    p = counts / counts.sum()
    nz = p[p > 0]
    return {
        "classes_covered": int((counts > 0).sum()),
        "class_kl": float(math.log(classes) + (nz * nz.log()).sum()),
    }
