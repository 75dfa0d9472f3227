"""The Game base class: losses from logits, the round's update order, the judgement.

A game owns no parameters. It decides each role's loss from the discriminator's logits,
the order of updates in a round (``d_steps`` discriminator updates, then one generator
update, the other side frozen) and how a match is scored.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, ClassVar

import torch
from torch import nn

from agents import Discriminator, Generator
from arena.registry import Gt

__all__ = ["Game", "frozen", "balanced_accuracy"]


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Turn off ``requires_grad`` on ``module``'s parameters for the duration: no gradient
    reaches them, so nothing accumulates and no optimizer can move them."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def balanced_accuracy(real_logits: torch.Tensor, fake_logits: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """Mean of the discriminator's accuracy on real inputs and on generated ones."""
    return 0.5 * ((real_logits > threshold).float().mean() + (fake_logits <= threshold).float().mean())


class Game(abc.ABC):
    """A two-role adversarial game between one generator and one discriminator.

    Subclasses define :meth:`d_loss` and :meth:`g_loss` on logits, or override
    :meth:`discriminator_loss` / :meth:`generator_loss` where a loss needs more than the logits
    (a gradient penalty).

    Args:
        d_steps: discriminator updates per round (the paper's k).
    """

    id: str = ""
    """The registered id, set by :func:`games.make`."""
    roles: ClassVar[tuple[str, ...]] = ("generator", "discriminator")

    between_updates: Callable[[], None] | None = None
    """Called inside every round after the discriminator updates (a hook for fault injection)."""

    def __init__(self, d_steps: Annotated[int, Gt(0)] = 1) -> None:
        self.d_steps = d_steps

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, d_steps={self.d_steps})"

    # ------------------------------------------------------------------ losses
    @abc.abstractmethod
    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """The discriminator's loss from its logits on real and generated data."""

    @abc.abstractmethod
    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """The generator's loss from the discriminator's logits on its samples."""

    def discriminator_loss(
        self, discriminator: Discriminator, real: torch.Tensor, fake: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns ``(loss, real_logits, fake_logits)``; ``fake`` is already detached.

        Real and generated batches go through the discriminator separately, as in the DCGAN and
        PyTorch-GAN reference loops: a batch-normalised discriminator then sees the same kind of
        batch statistics here as in the generator's update, where it sees generated data only.
        """
        real_logits = discriminator(real)
        fake_logits = discriminator(fake)
        return self.d_loss(real_logits, fake_logits), real_logits, fake_logits

    def generator_loss(self, discriminator: Discriminator, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(loss, fake_logits)``."""
        fake_logits = discriminator(fake)
        return self.g_loss(fake_logits), fake_logits

    # ------------------------------------------------------------------ updates
    def discriminator_update(
        self, generator: Generator, discriminator: Discriminator, real: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """One discriminator step on ``real`` and as many generated samples, the generator detached."""
        with torch.no_grad():
            fake = generator.sample(real.shape[0])
        discriminator.zero_grad()
        loss, real_logits, fake_logits = self.discriminator_loss(discriminator, real, fake)
        loss.backward()
        discriminator.step()
        return {
            "d_loss": loss.detach(),
            "d_real": torch.sigmoid(real_logits.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach()).mean(),
        }

    def generator_update(self, generator: Generator, discriminator: Discriminator, n: int) -> dict[str, torch.Tensor]:
        """One generator step on ``n`` samples; the discriminator's parameters are frozen."""
        with frozen(discriminator.net):
            generator.zero_grad()
            fake = generator.sample(n)
            loss, _ = self.generator_loss(discriminator, fake)
            loss.backward()
            generator.step()
        return {"g_loss": loss.detach()}

    def round(
        self,
        generator: Generator,
        discriminator: Discriminator,
        real_batch: Callable[[], torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """One minimax round: ``d_steps`` discriminator updates, then one generator update.

        Args:
            generator: the generator.
            discriminator: the discriminator.
            real_batch: returns the next batch of real data; called once per discriminator update.

        Returns:
            detached scalar tensors: ``d_loss``, ``d_real`` and ``d_fake`` (mean D on real and
            generated data, as probabilities) from the last discriminator update, and ``g_loss``.
        """
        for _ in range(self.d_steps):
            real = real_batch()
            stats = self.discriminator_update(generator, discriminator, real)
        if self.between_updates is not None:
            self.between_updates()
        stats.update(self.generator_update(generator, discriminator, real.shape[0]))
        return stats

    # ------------------------------------------------------------------ judgement
    def judge(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """The discriminator's score in a match: its balanced accuracy (the generator scores 1 minus it)."""
        return balanced_accuracy(real_logits, fake_logits)
