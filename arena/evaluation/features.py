"""Metrics on the features of a small classifier trained on the same data set.

The classifier (an MLP, ``input -> 256 -> 128 -> classes``) is trained on the data's
training split with its labels, cached under ``~/.cache/gan-arena/classifiers`` (or
``$GAN_ARENA_CACHE``), and reports its test accuracy. Its 128-d penultimate layer gives the
features for the Frechet distance and for precision and recall (k-nearest-neighbour manifolds,
:mod:`arena.evaluation.geometry`); its predictions give class coverage.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from arena.core.files import cache_dir, save_to_cache

__all__ = [
    "Classifier",
    "classifier_for",
    "frechet_distance",
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
    path = cache_dir("classifiers") / key
    model = Classifier(x[0].numel(), data.num_classes)
    if cache and path.is_file():
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        model.eval()
    else:
        model = train_classifier(x, y, data.num_classes, progress=progress)
        if cache:
            save_to_cache(path, model.state_dict())
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


def class_coverage(predicted: torch.Tensor, classes: int) -> dict[str, float]:
    """Classes predicted for at least one sample, and KL(class histogram || uniform) = log K - H."""
    counts = torch.bincount(predicted.flatten(), minlength=classes).double()
    p = counts / counts.sum()
    nz = p[p > 0]
    return {
        "classes_covered": int((counts > 0).sum()),
        "class_kl": float(math.log(classes) + (nz * nz.log()).sum()),
    }
