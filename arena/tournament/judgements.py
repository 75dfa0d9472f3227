"""How a discriminator's calls on real and generated data become its score in a match (a cell of
the payoff matrix, in [0, 1]; the generator scores 1 minus it).

- ``game``: the pair's game decides (by default the balanced accuracy of thresholding the logit
  at 0: a coarse score, which cannot tell two generators apart once neither fools a
  discriminator at all, or both do);
- ``auc``: the area under the ROC curve: the probability that the discriminator ranks a random
  real sample above a random generated one (threshold-free);
- ``likelihood``: the geometric mean of the probabilities it gives the right answers,
  ``exp(mean(log D(x_real)) / 2 + mean(log(1 - D(x_fake))) / 2)``, which also weighs how
  confidently it is right or wrong.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from arena.core.registry import Registry

__all__ = ["judgements", "auc", "likelihood", "judge_for"]

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


judgements: Registry[Judgement] = Registry("judgement")
"""Every judgement: ``ratings.judge`` in a config, ``arena league --judge`` name one."""
judgements.register("game", lambda real, fake: real, "the pair's game decides (balanced accuracy by default)")
judgements.register("auc", auc, "area under the ROC curve of the discriminator's logits")
judgements.register("likelihood", likelihood, "geometric mean of the probabilities of the right calls")


def judge_for(name: str, game) -> Judgement:
    """The judgement ``name``, reading the discriminator's "real" logit as ``game`` does."""
    if name == "game":
        return game.judge
    fn = judgements.factory(name)
    return lambda real, fake: fn(game.realness(real), game.realness(fake))
