"""Multi-player games: one generator against several discriminators (GMAN), several
generators against one discriminator with one output per generator plus "real" (MAD-GAN).

They run in the same tournament as the pair games: a game's :class:`~games.Shape` tells the
tournament who plays in one match, and the game's :meth:`~games.Game.update_discriminators` and
:meth:`~games.Game.update_generators` take the lists of players.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import torch
import torch.nn.functional as F

from agents import Discriminator, Generator
from arena.core.registry import Ge, Gt
from games.base import Game, Shape, all_frozen, frozen
from games.classic import NonSaturatingGame

__all__ = ["GMANGame", "MADGANGame", "combine_losses"]

Mean = Literal["arithmetic", "geometric", "harmonic", "softmax"]


def combine_losses(losses: torch.Tensor, mean: Mean, lam: torch.Tensor | float = 0.0) -> torch.Tensor:
    """GMAN's combinations of the generator's losses against N discriminators (positive losses).

    ``softmax`` weights loss ``i`` by ``softmax(lam * losses)_i``: ``lam = 0`` is the arithmetic
    mean, and a large ``lam`` approaches the maximum (the harshest discriminator).
    """
    if mean == "arithmetic":
        return losses.mean()
    if mean == "geometric":
        return torch.exp(torch.log(losses.clamp_min(1e-12)).mean())
    if mean == "harmonic":
        return losses.numel() / (1.0 / losses.clamp_min(1e-12)).sum()
    weights = torch.softmax(lam * losses, dim=0)
    return (weights * losses).sum()


class GMANGame(NonSaturatingGame):
    """GMAN (Durugkar et al., 2016): one generator against every discriminator of the run.

    Each discriminator updates on the same real batch and the same generated batch with the
    non-saturating GAN loss; the generator minimises a combination of its N losses.

    Args:
        d_steps: discriminator updates per round.
        mean: ``arithmetic``, ``geometric``, ``harmonic`` or ``softmax``.
        lam: the softmax weighting's lambda (``mean: softmax``).
        learn_lam: learn lambda (GMAN*): the generator minimises ``F_lambda - lam_penalty * lambda``
            over lambda >= 0 as well; lambda is kept with the generator's state.
        lam_penalty: the reward for a larger lambda (without it lambda would fall to 0).
        lam_lr: step size of lambda's updates.
        mode_seeking, mode_seeking_pool: the pooled mode-seeking term (:class:`games.Game`), added to
            the generator's loss after the mean (the means combine positive losses; the term, a
            ``-log``, can be negative).
    """

    shape = Shape(generators="one", discriminators="all", stacks="discriminators")
    """One generator against every discriminator; the discriminators stack (:mod:`arena.engine.team`)."""

    def __init__(
        self,
        d_steps: Annotated[int, Gt(0)] = 1,
        mean: Mean = "arithmetic",
        lam: Annotated[float, Ge(0)] = 0.0,
        learn_lam: bool = False,
        lam_penalty: Annotated[float, Ge(0)] = 1e-3,
        lam_lr: Annotated[float, Gt(0)] = 1e-2,
        mode_seeking: Annotated[float, Ge(0)] = 0.0,
        mode_seeking_pool: Annotated[int, Gt(0)] = 1,
        identity: Annotated[float, Ge(0)] = 0.0,
    ) -> None:
        super().__init__(d_steps, mode_seeking, mode_seeking_pool, identity)
        if learn_lam and mean != "softmax":
            from arena.core.errors import ConfigError

            raise ConfigError("learn_lam needs mean: softmax", ("learn_lam",))
        self.mean, self.lam, self.learn_lam = mean, lam, learn_lam
        self.lam_penalty, self.lam_lr = lam_penalty, lam_lr

    def _lambda(self, generator: Generator) -> torch.Tensor | float:
        if not self.learn_lam:
            return self.lam
        if "gman_lambda" not in generator.extras:  # softplus^-1 of the initial lambda
            start = torch.tensor(max(self.lam, 1e-3), device=generator.device)
            generator.extras["gman_lambda"] = torch.log(torch.expm1(start)).requires_grad_(True)
        return F.softplus(generator.extras["gman_lambda"])

    def update_discriminators(self, generators, discriminators, real):
        generator = generators[0]
        with torch.no_grad():
            fake = generator.sample(real.shape[0])
        totals: dict[str, torch.Tensor] = {}
        for d in discriminators:
            d.zero_grad()
            loss, real_logits, fake_logits = self.discriminator_loss(d, real, fake)
            d.scaled(loss).backward()
            d.step()
            for key, value in (("d_loss", loss), ("d_real", torch.sigmoid(self.split_logits(real_logits)[0]).mean()),
                               ("d_fake", torch.sigmoid(self.split_logits(fake_logits)[0]).mean())):
                totals[key] = totals.get(key, 0) + value.detach() / len(discriminators)
        return totals

    def update_generators(self, generators, discriminators, n):
        generator = generators[0]
        with all_frozen(discriminators):
            generator.zero_grad()
            fake = generator.sample(n)
            return self.generator_team_step(generator, [d(fake) for d in discriminators], fake)

    def generator_team_step(self, generator: Generator, fake_logits: Sequence[torch.Tensor] | torch.Tensor,
                            fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """The generator's step from every discriminator's logits on its samples ``fake`` (a list,
        or a tensor with one row per discriminator, as the stacked team of
        :mod:`arena.engine.team` computes them): the combined loss plus the mode-seeking term,
        backward, the optimizer step and (GMAN*) lambda's step. The generator's gradients are zeroed
        and ``fake`` drawn by the caller; the logits carry no gradient to the discriminators."""
        split = [self.split_logits(logits) for logits in fake_logits]
        losses = torch.stack([self.g_loss(logits) for logits, _ in split])
        lam = self._lambda(generator)
        loss = self.with_mode_seeking(combine_losses(losses, self.mean, lam), fake)
        if self.identity:  # the members' cooperation with every discriminator's classifier, averaged
            loss = loss + self.identity * torch.stack([self.identity_loss(who) for _, who in split]).mean()
        objective = loss - self.lam_penalty * lam if self.learn_lam else loss
        raw = generator.extras.get("gman_lambda") if self.learn_lam else None
        if raw is not None:
            raw.grad = None
        scale = generator.scaler.get_scale() if generator.scaler is not None else 1.0
        generator.scaled(objective).backward()
        generator.step()
        if raw is not None and raw.grad is not None:
            with torch.no_grad():
                raw -= self.lam_lr * raw.grad / scale
            raw.grad = None
        stats = {"g_loss": loss.detach()}
        if self.learn_lam:
            stats["lambda"] = torch.as_tensor(lam).detach()
        return stats


class MADGANGame(Game):
    """MAD-GAN (Ghosh et al., 2018): k generators against one discriminator with k + 1 outputs.

    The discriminator classifies each input as real (the last output) or as made by generator
    ``i`` (output ``i``), with cross-entropy; each generator is trained to have its samples
    classified as real (the non-saturating form), which pushes generators apart, to different
    modes. For judging, the discriminator's "real" logit is ``l_real - logsumexp(l_fake)``.
    """

    shape = Shape(generators="all", discriminators="one")
    """Every generator against one discriminator, one by one."""

    def d_outputs(self, generators: int, members: int = 1) -> int:
        return generators + 1

    def realness(self, logits: torch.Tensor) -> torch.Tensor:
        return logits[:, -1] - torch.logsumexp(logits[:, :-1], dim=1)

    @staticmethod
    def _ce(logits: torch.Tensor, label: int) -> torch.Tensor:
        target = torch.full((logits.shape[0],), label % logits.shape[1], dtype=torch.long, device=logits.device)
        return F.cross_entropy(logits, target)

    def d_loss(self, real_logits, fake_logits, index: int = 0):
        return 0.5 * (self._ce(real_logits, -1) + self._ce(fake_logits, index))

    def g_loss(self, fake_logits):
        return self._ce(fake_logits, -1)

    def update_discriminators(self, generators: Sequence[Generator], discriminators: Sequence[Discriminator], real):
        d = discriminators[0]
        with torch.no_grad():
            fakes = [g.sample(real.shape[0]) for g in generators]
        d.zero_grad()
        real_logits = d(real)
        fake_logits = [d(fake) for fake in fakes]
        losses = [self._ce(real_logits, -1)] + [self._ce(lf, i) for i, lf in enumerate(fake_logits)]
        loss = torch.stack(losses).mean()
        d.scaled(loss).backward()
        d.step()
        d_fake = torch.stack([torch.sigmoid(self.realness(lf.detach())).mean() for lf in fake_logits]).mean()
        return {"d_loss": loss.detach(), "d_real": torch.sigmoid(self.realness(real_logits.detach())).mean(), "d_fake": d_fake}

    def update_generators(self, generators, discriminators, n):
        d = discriminators[0]
        with frozen(d.net):
            for g in generators:
                g.zero_grad()
            losses = [self.generator_objective(d(fake), fake) for fake in (g.sample(n) for g in generators)]
            loss = torch.stack(losses).sum()
            sum(g.scaled(each) for g, each in zip(generators, losses)).backward()
            for g in generators:
                g.step()
        return {"g_loss": loss.detach() / len(generators)}
