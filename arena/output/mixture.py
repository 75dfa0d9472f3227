"""The tournament's final generator: a weighted mixture of its best generators.

Weightings are registered in :data:`weightings` (``mixture.weights`` in a config):

- ``uniform``: every component alike;
- ``rating``: proportional to Bradley-Terry strength ``10^(rating / 400)``;
- ``nash``: the maximum-entropy Nash equilibrium of the zero-sum meta-game of the latest payoff
  matrix (:mod:`arena.output.nash`): the generators' mixture that the best discriminator
  can tell from real data least well;
- ``heldout``: fitted to held-out real data only (the data's validation split where it has one,
  else its test split): the weights minimise the kernel MMD between the mixture's samples and
  those real samples (a Gaussian kernel at three scales of the median distance);
- ``oracle-modes``: fitted to the benchmark's own answer, the modes of a toy mixture (or the
  symbols' probabilities): a user with real data has no such thing, so it is for toy studies
  only and no shipped config uses it.

For ``oracle-modes``, with ``H[k, i]`` the share
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
from typing import Any, Protocol, cast

import torch

from agents import Generator, Sampler
from arena.core.errors import ArenaError
from arena.core.registry import Registry
from arena.data.kinds import DataKind
from arena.output.record import OutputRecord

__all__ = ["Mixture", "Candidates", "weightings", "fit_weights", "mixture_weights"]


class Component(Sampler, Protocol):
    """A mixture's component: a generator as the world sees it (its weight average, a family's
    member), with the random stream it draws its latents from by default."""

    @property
    def rng(self) -> torch.Generator: ...


class Mixture:
    """Samples from generator ``i`` with probability ``weights[i]``.

    Each sample's component is drawn first; each component then maps its share of latent
    draws. All draws come from ``generator`` (or from the first component's own stream).
    """

    def __init__(self, components: Sequence[Component], weights: Sequence[float]) -> None:
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

    def as_dict(self) -> dict[str, Any]:
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
    payoff: dict[str, list[float | None]] = dataclasses.field(default_factory=dict)
    """Each generator's row of the latest payoff matrix (None for a retired discriminator)."""
    heldout: torch.Tensor | None = None
    """Real data held out from training (for ``heldout``)."""
    features: Callable[[torch.Tensor], torch.Tensor] | None = None
    """Where ``heldout`` compares samples: a map to a feature space (on images, the discriminators'
    own features, where a kernel means more than on pixels); None: the data's own space."""


def nash_weights(c: Candidates) -> list[float]:
    """The generators' maximum-entropy Nash equilibrium of the latest payoff matrix."""
    from arena.output.nash import max_entropy_nash

    found = [c.payoff.get(g.name) for g in c.generators]
    rows = [r for r in found if r is not None]
    if len(rows) < len(found):
        return uniform_weights(c)
    columns = [j for j in range(len(rows[0])) if all(r[j] is not None for r in rows)]
    if not columns:
        return uniform_weights(c)
    w, _ = max_entropy_nash([[cast(float, r[j]) for j in columns] for r in rows])
    return [float(x) for x in w]


def _kernel_means(xs: list[torch.Tensor], ys: torch.Tensor, scales: Sequence[float] = (1 / 16, 1 / 4, 1.0)) -> tuple[torch.Tensor, torch.Tensor]:
    """``K[i, j]`` = mean kernel between ``xs[i]`` and ``xs[j]``, ``k[i]`` = mean kernel between
    ``xs[i]`` and ``ys``; a sum of Gaussian kernels at ``scales`` times the median distance of ``ys``."""
    flat = [x.reshape(x.shape[0], -1).double() for x in xs]
    y = ys.reshape(ys.shape[0], -1).double()
    median = torch.cdist(y, y).median().clamp_min(1e-8)
    widths = [float(median * s) for s in scales]

    def mean_kernel(a: torch.Tensor, b: torch.Tensor) -> float:
        d2 = torch.cdist(a, b).square()
        return float(sum(torch.exp(-d2 / (2 * h * h)).mean() for h in widths))

    n = len(flat)
    big_k = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        for j in range(i, n):
            big_k[i, j] = big_k[j, i] = mean_kernel(flat[i], flat[j])
    small_k = torch.tensor([mean_kernel(x, y) for x in flat], dtype=torch.float64)
    return big_k, small_k


def mmd_weights(big_k: torch.Tensor, small_k: torch.Tensor) -> list[float]:
    """The weights on the simplex minimising ``w^T K w - 2 w^T k`` (the squared MMD of the mixture
    to the reference, up to a constant): a convex quadratic program, solved exactly in plain
    Python floats (:func:`arena.output.qp.simplex_qp`), so that every machine fits the same bits."""
    from arena.output.qp import simplex_qp

    w = simplex_qp(big_k.tolist(), small_k.tolist())
    w = [0.0 if x < 1e-6 else x for x in w]
    total = sum(w)
    return [x / total for x in w]


def heldout_weights(c: Candidates, per_component: int = 1000) -> list[float]:
    """Fitted to real data held out from training: the weights minimising the kernel MMD between
    the mixture and that data (:func:`mmd_weights`)."""
    if c.heldout is None:
        return uniform_weights(c)
    xs = [c.samples[g.name][:per_component] for g in c.generators]
    y = c.heldout[:per_component]
    if c.features is not None:
        y = c.features(y)  # first: the held-out data sets the features' scales
        xs = [c.features(x) for x in xs]
    big_k, small_k = _kernel_means([x.cpu() for x in xs], y.cpu())
    return mmd_weights(big_k, small_k)


def uniform_weights(c: Candidates) -> list[float]:
    """Every component alike."""
    return [1.0 / len(c.generators)] * len(c.generators)


def rating_weights(c: Candidates) -> list[float]:
    """Proportional to Bradley-Terry strength ``10^(rating / 400)``."""
    top = max(c.ratings.get(g.name, 1500.0) for g in c.generators)
    strength = [10 ** ((c.ratings.get(g.name, 1500.0) - top) / 400) for g in c.generators]
    return [s / sum(strength) for s in strength]


def oracle_weights(c: Candidates) -> list[float]:
    """Fitted to the data's known bins (toy modes, symbols) where it has them; otherwise
    proportional to each generator's quality signal. An oracle: for toy studies only."""
    from arena.evaluation.metrics import mode_counts, symbol_counts

    modes, probs = c.kind.modes(), c.kind.symbols()
    if modes is not None or probs is not None:
        if modes is not None:
            counts = [mode_counts(c.samples[g.name], modes.centers, modes.std) for g in c.generators]
            target = torch.ones(modes.centers.shape[0])
        else:
            symbols = cast(list[float], probs)
            counts = [symbol_counts(c.samples[g.name], len(symbols)) for g in c.generators]
            target = torch.tensor(symbols)
        shares = [n / c.samples[g.name].shape[0] for n, g in zip(counts, c.generators)]
        return cast(list[float], fit_weights(torch.stack(shares, dim=1), target).tolist())
    scores = [max(c.quality.get(g.name, 0.0), 0.0) for g in c.generators]
    if sum(scores) <= 0:
        return uniform_weights(c)
    return [s / sum(scores) for s in scores]


weightings: Registry[list[float]] = Registry("mixture weighting")
"""Every way of weighting a mixture's components: ``mixture.weights`` in a config names one."""
weightings.register("uniform", uniform_weights, "every component alike")
weightings.register("rating", rating_weights, "proportional to Bradley-Terry strength 10^(rating/400)")
weightings.register("nash", nash_weights, "the maximum-entropy Nash equilibrium of the latest payoff matrix (zero-sum meta-game)")
weightings.register("heldout", heldout_weights, "minimising the kernel MMD to real data held out from training")
weightings.register("oracle-modes", oracle_weights,
                    "fitted to the toy data's true modes or symbols: an oracle, for toy studies only")


def mixture_weights(kind: str, candidates: Candidates) -> list[float]:
    """The weights of ``candidates`` under the weighting registered as ``kind``."""
    if len(candidates.generators) == 1:
        return [1.0]
    weigh: Callable[[Candidates], list[float]] = weightings.factory(kind)
    return weigh(candidates)


def mixture_from_record(record: OutputRecord | None, generator: Callable[[str], Component]) -> Mixture:
    """The mixture a run recorded (``mixture.json``, the checkpoint), over its loaded generators."""
    if not record:
        raise ArenaError("this run has no mixture yet: it is chosen at the first evaluation")
    return Mixture([generator(name) for name in record.components], record.weights)
