"""The classic two-player games, each a loss on the discriminator's logits.

All losses use numerically stable forms on logits: with ``D = sigmoid(l)``,
``-log D = softplus(-l)`` and ``-log(1 - D) = softplus(l)``.
"""

from __future__ import annotations

from typing import Annotated

import torch
import torch.nn.functional as F

from agents import Discriminator
from arena.core.registry import Ge, Gt
from games.base import Game, Shape

__all__ = ["MinimaxGame", "NonSaturatingGame", "WGANGPGame", "HingeGame", "LSGANGame"]


class MinimaxGame(Game):
    """Goodfellow et al. (2014), eq. 1 as written: D maximises ``log D(x) + log(1 - D(G(z)))``
    and G minimises ``log(1 - D(G(z)))``, which saturates when D rejects G's samples."""

    shape = Shape(stacks="pairs")
    """A pair; its rounds are its losses alone, so pair matches stack."""

    def d_loss(self, real_logits, fake_logits):
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def g_loss(self, fake_logits):
        return -F.softplus(fake_logits).mean()  # log(1 - sigmoid(l)) = -softplus(l)


class NonSaturatingGame(MinimaxGame):
    """The paper's practical game: G maximises ``log D(G(z))`` instead (same fixed point, strong early gradients)."""

    shape = Shape(stacks="pairs")
    """A pair; its rounds are its losses alone, so pair matches stack."""

    def g_loss(self, fake_logits):
        return F.softplus(-fake_logits).mean()


class WGANGPGame(Game):
    """Wasserstein GAN with gradient penalty (Gulrajani et al., 2017).

    The critic minimises ``E[D(G(z))] - E[D(x)] + lambda E[(|grad D(x_hat)| - 1)^2]`` on random
    interpolates ``x_hat``, drawn from the critic's own random stream.

    Args:
        d_steps: critic updates per round (5 in the paper).
        gp_weight: lambda (10 in the paper).
        mode_seeking, mode_seeking_pool: as for every pair game (:class:`games.Game`).
    """

    shape = Shape()
    """A pair played one by one: the gradient penalty is not part of the stacked kernels' losses."""

    def __init__(self, d_steps: Annotated[int, Gt(0)] = 5, gp_weight: Annotated[float, Ge(0)] = 10.0,
                 mode_seeking: Annotated[float, Ge(0)] = 0.0, mode_seeking_pool: Annotated[int, Gt(0)] = 1) -> None:
        super().__init__(d_steps, mode_seeking, mode_seeking_pool)
        self.gp_weight = gp_weight

    def d_loss(self, real_logits, fake_logits):
        return fake_logits.mean() - real_logits.mean()

    def g_loss(self, fake_logits):
        return -fake_logits.mean()

    def discriminator_loss(self, discriminator: Discriminator, real, fake):
        loss, real_logits, fake_logits = super().discriminator_loss(discriminator, real, fake)
        if self.gp_weight:
            shape = (real.shape[0],) + (1,) * (real.dim() - 1)
            eps = torch.rand(shape, generator=discriminator.rng, device=real.device)
            mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(discriminator(mixed).sum(), mixed, create_graph=True)
            penalty = (grad.flatten(1).norm(dim=1) - 1).square().mean()
            loss = loss + self.gp_weight * penalty
        return loss, real_logits, fake_logits


class HingeGame(Game):
    """Hinge loss (Lim and Ye, 2017; Miyato et al., 2018): D minimises
    ``E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]``, G minimises ``-E[D(G(z))]``."""

    shape = Shape(stacks="pairs")
    """A pair; its rounds are its losses alone, so pair matches stack."""

    def d_loss(self, real_logits, fake_logits):
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def g_loss(self, fake_logits):
        return -fake_logits.mean()


class LSGANGame(Game):
    """Least squares GAN (Mao et al., 2017) with targets a=0 (fake), b=1 (real), c=1 (G's target):
    D minimises ``(D(x) - 1)^2 / 2 + D(G(z))^2 / 2``, G minimises ``(D(G(z)) - 1)^2 / 2``,
    where D is the raw output."""

    shape = Shape(stacks="pairs")
    """A pair; its rounds are its losses alone, so pair matches stack."""

    def d_loss(self, real_logits, fake_logits):
        return 0.5 * ((real_logits - 1).square().mean() + fake_logits.square().mean())

    def g_loss(self, fake_logits):
        return 0.5 * (fake_logits - 1).square().mean()

    def score(self, real_logits, fake_logits):
        return super().score(real_logits - 0.5, fake_logits - 0.5)
