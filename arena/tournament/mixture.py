"""The tournament's final generator: a weighted mixture of its best generators.

Weights are ``uniform``, by ``rating`` (Bradley-Terry strength ``10^(rating / 400)``), or by
``quality``: fitted so that the mixture's histogram over the data's modes (toy mixtures) or
symbols (categorical data) is as close as possible to the data's. Weightings are registered in
:data:`weightings` (``mixture.weights`` in a config). With ``H[k, i]`` the share
of generator ``i``'s samples that are high-quality samples of mode ``k`` and ``p`` the data's
mode probabilities, the weights maximise ``sum_k p_k log (H w)_k`` over the simplex, i.e.
minimise ``KL(p || H w)``: a missing mode and samples off every mode both cost. The problem
is concave; the multiplicative update ``w_i <- w_i * sum_k p_k H[k, i] / (H w)_k`` converges
to its maximum (Cover's portfolio algorithm). Data without modes fall back to weights
proportional to each generator's ``quality`` signal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch

from agents import Generator
from arena.core.errors import ArenaError
from arena.core.registry import Registry
from arena.data.kinds import DataKind

__all__ = ["Mixture", "Candidates", "weightings", "fit_weights", "mixture_weights"]


class Mixture:
    """Samples from generator ``i`` with probability ``weights[i]``.

    Each sample's component is drawn first; each component then maps its share of latent
    draws. All draws come from ``generator`` (or from the first component's own stream).
    """

    def __init__(self, components: Sequence[Generator], weights: Sequence[float]) -> None:
        if len(components) != len(weights) or not components:
            raise ValueError("a mixture needs one weight per component, and at least one component")
        total = float(sum(weights))
        self.components = list(components)
        self.weights = [float(w) / total for w in weights]
        self.name = "mixture"
        self.device = self.components[0].device

    def __repr__(self) -> str:
        parts = ", ".join(f"{g.name}: {w:.3f}" for g, w in zip(self.components, self.weights))
        return f"Mixture({parts})"

    @property
    def training(self) -> bool:
        return self.components[0].training

    def train(self, mode: bool = True) -> Mixture:
        for g in self.components:
            g.train(mode)
        return self

    def eval(self) -> Mixture:
        return self.train(False)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        rng = generator if generator is not None else self.components[0].rng
        w = torch.tensor(self.weights, dtype=torch.float64, device=rng.device)
        which = torch.multinomial(w, n, replacement=True, generator=rng).to(self.device)
        out: torch.Tensor | None = None
        for i, g in enumerate(self.components):
            mask = which == i
            k = int(mask.sum())
            if k == 0:
                continue
            x = g.sample(k, generator)
            if out is None:
                out = torch.empty((n, *x.shape[1:]), dtype=x.dtype, device=x.device)
            out[mask] = x
        assert out is not None
        return out

    def as_dict(self) -> dict:
        return {"components": [g.name for g in self.components], "weights": self.weights}


def fit_weights(hist: torch.Tensor, target: torch.Tensor, iterations: int = 2000) -> torch.Tensor:
    """Weights ``w`` on the simplex maximising ``sum_k target_k log (hist @ w)_k``.

    Args:
        hist: ``(K, G)``: column ``i`` is component ``i``'s share of samples in each of K bins
            (a column may sum to less than 1: the rest is off every bin).
        target: ``(K,)``, the data's bin probabilities.
    """
    hist = hist.double().clamp_min(1e-12)
    target = target.double() / target.sum()
    w = torch.full((hist.shape[1],), 1.0 / hist.shape[1], dtype=torch.float64)
    for _ in range(iterations):
        w = w * (hist.T @ (target / (hist @ w)))
        w = w / w.sum()
    return w


@dataclasses.dataclass
class Candidates:
    """What a weighting may look at: the generators chosen for the mixture (best-rated first),
    their ratings, their latest evaluation samples and quality signals, and the data's kind."""

    generators: Sequence[Generator]
    ratings: dict[str, float]
    samples: dict[str, torch.Tensor]
    quality: dict[str, float]
    kind: DataKind


def uniform_weights(c: Candidates) -> list[float]:
    """Every component alike."""
    return [1.0 / len(c.generators)] * len(c.generators)


def rating_weights(c: Candidates) -> list[float]:
    """Proportional to Bradley-Terry strength ``10^(rating / 400)``."""
    top = max(c.ratings.get(g.name, 1500.0) for g in c.generators)
    strength = [10 ** ((c.ratings.get(g.name, 1500.0) - top) / 400) for g in c.generators]
    return [s / sum(strength) for s in strength]


def quality_weights(c: Candidates) -> list[float]:
    """Fitted to the data's bins (modes, symbols) where it has them; otherwise proportional to
    each generator's quality signal."""
    hists = [c.kind.histogram(c.samples[g.name]) for g in c.generators]
    target = c.kind.target()
    if target is not None and all(h is not None for h in hists):
        return fit_weights(torch.stack(hists, dim=1), target).tolist()
    scores = [max(c.quality.get(g.name, 0.0), 0.0) for g in c.generators]
    if sum(scores) <= 0:
        return uniform_weights(c)
    return [s / sum(scores) for s in scores]


weightings: Registry[list[float]] = Registry("mixture weighting")
"""Every way of weighting a mixture's components: ``mixture.weights`` in a config names one."""
weightings.register("uniform", uniform_weights, "every component alike")
weightings.register("rating", rating_weights, "proportional to Bradley-Terry strength 10^(rating/400)")
weightings.register("quality", quality_weights, "fitted to the data's modes or symbols (toy data), else by quality signal")


def mixture_weights(kind: str, candidates: Candidates) -> list[float]:
    """The weights of ``candidates`` under the weighting registered as ``kind``."""
    if len(candidates.generators) == 1:
        return [1.0]
    weigh: Callable[[Candidates], list[float]] = weightings.factory(kind)
    return weigh(candidates)


def mixture_from_record(record: dict[str, Any] | None, generator: Callable[[str], Generator]) -> Mixture:
    """The mixture a run recorded (``mixture.json``, the checkpoint), over its loaded generators."""
    if not record:
        raise ArenaError("this run has no mixture yet: it is chosen at the first evaluation")
    return Mixture([generator(name) for name in record["components"]], record["weights"])
