"""How a discriminator's calls on real and generated data become its score in a match (a cell of
the payoff matrix, in [0, 1]; the generator scores 1 minus it).

- ``game``: the pair's game decides (by default the balanced accuracy of thresholding the logit
  at 0: a coarse score, which cannot tell two generators apart once neither fools a
  discriminator at all, or both do);
- ``auc``: the area under the ROC curve: the probability that the discriminator ranks a random
  real sample above a random generated one (threshold-free);
- ``likelihood``: the geometric mean of the probabilities it gives the right answers,
  ``exp(mean(log D(x_real)) / 2 + mean(log(1 - D(x_fake))) / 2)``, which also weighs how
  confidently it is right or wrong;
- ``manifold``: a judgement of the two sets rather than of samples one by one, in the
  discriminator's own features (the input of its last layer): the k-nearest-neighbour precision
  P (the share of generated samples inside the real samples' manifold) and recall R (the share
  of real samples inside the generated ones'; Kynkäänniemi et al. 2019, k = 3); the generator
  scores ``sqrt(P R)``. A discriminator that judges samples one at a time cannot see a mode
  that a generator never draws (its calls on the real samples there are the same whoever the
  generator is); recall does.
- ``density-coverage``: density and coverage (Naeem et al. 2020, k = 5) in the same features:
  coverage is the share of real samples whose k-NN ball (among the real samples) holds at least
  one generated sample, density the mean number of real balls a generated sample falls in, over k;
  the generator scores ``sqrt(min(density, 1) x coverage)``. Where the generator's density is
  ``r`` times the data's, a real sample's ball holds about ``k r`` generated samples, so coverage
  falls where modes are missing (``r = 0``), where mass leaks off the data, and, being concave in
  ``r``, where modes are covered unevenly, which the k-NN recall above does not see (the
  generated samples' own balls grow where they are sparse). Among generators of one run after
  half its training, it tracks reverse KL where per-sample calls do not
  (benchmarks/RESULTS.md, 2026-12-03).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from arena.core.registry import Registry
from arena.evaluation.geometry import Manifold, density_coverage, precision_recall

__all__ = ["judgements", "auc", "likelihood", "manifold", "manifold_against", "coverage", "coverage_against", "on_features",
           "judgement_for", "judgement_against"]

Judgement = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def auc(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """P(real logit > fake logit) + P(equal) / 2 (the Mann-Whitney statistic), from ranks."""
    r, f = real.flatten().double(), fake.flatten().double()
    both = torch.cat([r, f])
    order = both.argsort()
    ranks = torch.empty_like(both)
    ranks[order] = torch.arange(1, both.numel() + 1, dtype=torch.float64, device=both.device)
    # ties share their mean rank
    values, inverse, counts = torch.unique(both, return_inverse=True, return_counts=True)
    if counts.max() > 1:
        sums = torch.zeros_like(values).index_add_(0, inverse, ranks)
        ranks = (sums / counts)[inverse]
    n_r, n_f = r.numel(), f.numel()
    return (ranks[:n_r].sum() - n_r * (n_r + 1) / 2) / (n_r * n_f)


def likelihood(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The geometric mean of the probabilities of the right calls."""
    return torch.exp(0.5 * (F.logsigmoid(real.flatten().double()).mean() + F.logsigmoid(-fake.flatten().double()).mean()))


def manifold(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """The discriminator's score ``1 - sqrt(precision x recall)`` in its own features."""
    return manifold_against(real_features)(fake_features)


def manifold_against(real_features: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """:func:`manifold` against one set of real features, for any number of generated sets (the
    real manifold's radii computed once)."""
    real = Manifold(real_features)

    def score(fake_features: torch.Tensor) -> torch.Tensor:
        pr = precision_recall(real, fake_features)
        return torch.tensor(1.0 - (pr["precision"] * pr["recall"]) ** 0.5, dtype=torch.float64)

    return score


manifold.on_features = True  # type: ignore[attr-defined]  # judges the discriminator's features, not its logits
manifold.against = manifold_against  # type: ignore[attr-defined]

COVERAGE_K = 5
"""The neighbours of the density-coverage judgement's balls (Naeem et al.'s choice)."""


def coverage(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """The discriminator's score ``1 - sqrt(min(density, 1) x coverage)`` in its own features."""
    return coverage_against(real_features)(fake_features)


def coverage_against(real_features: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """:func:`coverage` against one set of real features, for any number of generated sets (the
    real balls' radii computed once)."""
    real = Manifold(real_features, COVERAGE_K)

    def score(fake_features: torch.Tensor) -> torch.Tensor:
        dc = density_coverage(real, fake_features)
        return torch.tensor(1.0 - (min(dc["density"], 1.0) * dc["coverage"]) ** 0.5, dtype=torch.float64)

    return score


coverage.on_features = True  # type: ignore[attr-defined]
coverage.against = coverage_against  # type: ignore[attr-defined]


def on_features(name: str) -> bool:
    """Whether the judgement ``name`` reads the discriminator's features rather than its logits."""
    return bool(getattr(judgements.factory(name), "on_features", False))


judgements: Registry[Judgement] = Registry("judgement")
"""Every judgement: ``ratings.judgement`` in a config, ``arena league --judgement`` name one."""
judgements.register("game", lambda real, fake: real, "the pair's game decides (balanced accuracy by default)")
judgements.register("auc", auc, "area under the ROC curve of the discriminator's logits")
judgements.register("likelihood", likelihood, "geometric mean of the probabilities of the right calls")
judgements.register("manifold", manifold, "k-NN precision and recall in the discriminator's features (sees a missing mode)")
judgements.register("density-coverage", coverage,
                    "density and coverage of the real k-NN balls in the discriminator's features (sees uneven modes)")


def judgement_against(name: str, real_features: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The judgement ``name`` of a discriminator's features against its features of the real
    data, prepared once for all the generators it judges (only for judgements :func:`on_features`)."""
    return judgements.factory(name).against(real_features)  # type: ignore[attr-defined]


def judgement_for(name: str, game) -> Judgement:
    """The judgement ``name``, reading the discriminator's "real" logit as ``game`` does."""
    if name == "game":
        return game.score
    fn = judgements.factory(name)
    if on_features(name):
        return fn
    return lambda real, fake: fn(game.realness(real), game.realness(fake))
