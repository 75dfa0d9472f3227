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
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from arena.core.registry import Registry

__all__ = ["judgements", "auc", "likelihood", "manifold", "precision_recall", "on_features", "judge_for"]

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


def _kth_distance(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Every row's distance to its k-th nearest other row."""
    out = []
    for part in x.split(chunk):
        out.append(torch.cdist(part, x).topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(out)


def _inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int) -> torch.Tensor:
    """Whether each point lies within the radius of at least one centre."""
    return torch.cat([(torch.cdist(part, centres) <= radii).any(1) for part in points.split(chunk)])


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3, chunk: int = 1024) -> tuple[float, float]:
    """k-NN precision and recall of ``fake`` against ``real`` (rows are points; Kynkäänniemi et
    al. 2019): the share of ``fake`` within some real point's distance to its k-th nearest real
    neighbour, and the share of ``real`` within some generated point's."""
    r, f = real.flatten(1).double(), fake.flatten(1).double()
    if min(r.shape[0], f.shape[0]) <= k:
        raise ValueError(f"precision and recall with k = {k} need more than {k} points in each set")
    precision = _inside(f, r, _kth_distance(r, k, chunk), chunk).double().mean()
    recall = _inside(r, f, _kth_distance(f, k, chunk), chunk).double().mean()
    return float(precision), float(recall)


def manifold(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """The discriminator's score ``1 - sqrt(precision x recall)`` in its own features."""
    precision, recall = precision_recall(real_features, fake_features)
    return torch.tensor(1.0 - (precision * recall) ** 0.5, dtype=torch.float64)


manifold.on_features = True  # type: ignore[attr-defined]  # judges the discriminator's features, not its logits


def on_features(name: str) -> bool:
    """Whether the judgement ``name`` reads the discriminator's features rather than its logits."""
    return bool(getattr(judgements.factory(name), "on_features", False))


judgements: Registry[Judgement] = Registry("judgement")
"""Every judgement: ``ratings.judge`` in a config, ``arena league --judge`` name one."""
judgements.register("game", lambda real, fake: real, "the pair's game decides (balanced accuracy by default)")
judgements.register("auc", auc, "area under the ROC curve of the discriminator's logits")
judgements.register("likelihood", likelihood, "geometric mean of the probabilities of the right calls")
judgements.register("manifold", manifold, "k-NN precision and recall in the discriminator's features (sees a missing mode)")


def judge_for(name: str, game) -> Judgement:
    """The judgement ``name``, reading the discriminator's "real" logit as ``game`` does."""
    if name == "game":
        return game.judge
    fn = judgements.factory(name)
    if on_features(name):
        return fn
    return lambda real, fake: fn(game.realness(real), game.realness(fake))
