"""The Game base class: losses from logits, the round's update order, the judgement.

A game owns no parameters. It decides each role's loss from the discriminator's logits,
the order of updates in a round (``d_steps`` discriminator updates, then one generator
update, the other side frozen) and how a match is scored.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Annotated, Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from agents import Discriminator, Generator
from agents.family import member_ids
from arena.core import faults
from arena.core.registry import Ge, Gt

__all__ = ["Game", "Shape", "frozen", "all_frozen", "balanced_accuracy", "mode_seeking_penalty"]

Match = tuple[tuple[int, ...], tuple[int, ...]]
"""The generator indices and the discriminator indices of one match."""


@dataclasses.dataclass(frozen=True)
class Shape:
    """What a game is before anything plays it: who meets whom in a round, and how its rounds
    may be computed together. The loop, the engine and the checker read it; nothing infers it from
    which methods a game's class overrides (OpenSpiel's ``GameType``, PettingZoo's ``possible_agents``).

    Attributes:
        generators: ``one`` generator a match, or ``all`` of the run's (MAD-GAN).
        discriminators: ``one`` discriminator a match, or ``all`` of the run's (GMAN).
        stacks: how the engine may compute several of its players at once, equal to one by one:
            ``pairs``: pair matches of one architecture stacked, each round computed from the
            game's :meth:`Game.discriminator_objective` and :meth:`Game.generator_objective` alone
            (:mod:`arena.engine.batched`); ``discriminators``: a match's discriminators stacked,
            the generator stepping through :meth:`Game.generator_team_step`
            (:mod:`arena.engine.team`); ``none``: always one by one, through the game's own updates.
    """

    generators: Literal["one", "all"] = "one"
    discriminators: Literal["one", "all"] = "one"
    stacks: Literal["pairs", "discriminators", "none"] = "none"

    def __post_init__(self) -> None:
        if self.generators == self.discriminators == "all":
            raise ValueError("a match of every generator against every discriminator is not a shape the loop plays")
        if self.stacks == "pairs" and not self.pair:
            raise ValueError("only a pair game stacks pairs")
        if self.stacks == "discriminators" and (self.generators, self.discriminators) != ("one", "all"):
            raise ValueError("only a game of one generator against every discriminator stacks its discriminators")

    @property
    def pair(self) -> bool:
        """Whether a match is one generator against one discriminator."""
        return self.generators == self.discriminators == "one"

    def matches(self, k: int, generators: int, discriminators: int) -> list[Match] | None:
        """The matches of matching ``k`` among ``generators`` x ``discriminators`` agents for a game
        of teams, which plays one team in turn: generator ``k mod N`` against every discriminator,
        or every generator against discriminator ``k mod M``. None for a pair game, whose pairs the
        schedule deals."""
        if self.discriminators == "all":
            return [((k % generators,), tuple(range(discriminators)))]
        if self.generators == "all":
            return [(tuple(range(generators)), (k % discriminators,))]
        return None


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


def mode_seeking_penalty(fake: torch.Tensor, pool: int = 1) -> torch.Tensor:
    """``-log`` of the mean absolute difference between the two halves of a generated batch
    (sample ``i`` against sample ``i + n/2``, over every value): large when the samples are alike.
    The mode-seeking term of MSGAN (Mao et al., 2019), in log form and without the latent
    distance, which for a Gaussian latent of many dimensions is nearly the same for every pair.
    It reads the generator's own samples only: no data, no labels. With ``pool`` > 1, images
    (``N x C x H x W``) are first averaged in squares of that side, so that the samples differ
    at the scale of shapes, not of pixel noise (which a weak discriminator lets pass)."""
    if pool > 1 and fake.dim() == 4:
        fake = torch.nn.functional.avg_pool2d(fake, pool, ceil_mode=True)
    half = fake.shape[0] // 2
    if half == 0:  # one sample: no pair to compare
        return fake.new_zeros((), dtype=torch.float32)
    diff = (fake[:half] - fake[half: 2 * half]).abs()
    spread = diff.to(torch.promote_types(diff.dtype, torch.float32)).mean()  # at least float32 under mixed precision
    return -torch.log(spread + 1e-8)


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
        mode_seeking: weight of :func:`mode_seeking_penalty` in the generator's loss (0: none), a
            remedy for mode collapse that reads no labels: a generator whose samples become
            alike pays for it before the discriminator notices. The pair games and MAD-GAN (for each
            generator's own batch) add it through :meth:`generator_objective`; GMAN adds it through
            :meth:`with_mode_seeking` after the mean of its losses (its means combine positive losses).
        mode_seeking_pool: on images, the side of the squares the penalty averages first (1:
            every pixel counts; larger rewards different shapes rather than pixel noise).
        identity: the weight ``beta`` of MGAN's identity signal (Hoang et al., 2018; 0: none), for a
            run whose generators form families (:mod:`agents.family`): every discriminator emits,
            beside its "real" logit, one logit per member, a classifier of which member made a
            generated sample (it knows by the batch's order, :func:`agents.family.member_ids`,
            never by labels of the data); the discriminator learns it on generated samples and the
            generators cooperate with it, both adding ``beta`` times its cross-entropy to their
            losses, which pushes the members apart.
    """

    id: str = ""
    """The registered id, set by :func:`games.make`."""
    shape: ClassVar[Shape] = Shape()
    """Who meets whom in a round and how the rounds stack (:class:`Shape`). Each class declares its
    own: a subclass that does not inherits who plays but not the stacking (``stacks: none``), since
    it may compute its rounds otherwise than the stacked kernels do."""
    generator_kind: ClassVar[str] = "sample"
    """The generators this game trains: ``sample`` (by backpropagation through D) or
    ``categorical`` (a policy over one-hot samples, by policy gradient)."""

    def __init__(self, d_steps: Annotated[int, Gt(0)] = 1, mode_seeking: Annotated[float, Ge(0)] = 0.0,
                 mode_seeking_pool: Annotated[int, Gt(0)] = 1, identity: Annotated[float, Ge(0)] = 0.0) -> None:
        self.d_steps = d_steps
        self.mode_seeking, self.mode_seeking_pool = mode_seeking, mode_seeking_pool
        self.identity = identity

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "shape" not in cls.__dict__:
            cls.shape = dataclasses.replace(cls.shape, stacks="none")

    def __repr__(self) -> str:
        extra = f", mode_seeking={self.mode_seeking}, mode_seeking_pool={self.mode_seeking_pool}" if self.mode_seeking else ""
        extra += f", identity={self.identity}" if self.identity else ""
        return f"{type(self).__name__}(id={self.id!r}, d_steps={self.d_steps}{extra})"

    def d_outputs(self, generators: int, members: int = 1) -> int:
        """Logits a discriminator emits per input in a run with ``generators`` generators, whose
        families have ``members`` members: one, and one more per member with the identity signal."""
        return 1 + members if self.identity else 1

    def split_logits(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A discriminator's logits as its "real" logit and, with the identity signal, its member classifier's."""
        return (logits[:, :1], logits[:, 1:]) if self.identity else (logits, None)

    def identity_loss(self, who: torch.Tensor) -> torch.Tensor:
        """The member classifier's cross-entropy on a family's mixed batch (the members in the
        batch's order, :func:`agents.family.member_ids`)."""
        return F.cross_entropy(who.float(), member_ids(who.shape[0], who.shape[1], who.device))

    def discriminator_objective(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """The discriminator's loss from its logits on real and generated data: :meth:`d_loss`,
        plus the weighted identity term where the game sets one."""
        real, _ = self.split_logits(real_logits)
        fake, who = self.split_logits(fake_logits)
        loss = self.d_loss(real, fake)
        return loss if who is None else loss + self.identity * self.identity_loss(who)

    def realness(self, logits: torch.Tensor) -> torch.Tensor:
        """One logit per input, large for "real", from a discriminator's output (for judging)."""
        return logits.reshape(logits.shape[0], -1)[:, 0]

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
        return self.discriminator_objective(real_logits, fake_logits), real_logits, fake_logits

    def generator_loss(self, discriminator: Discriminator, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns ``(loss, fake_logits)``."""
        fake_logits = discriminator(fake)
        return self.generator_objective(fake_logits, fake), fake_logits

    def generator_objective(self, fake_logits: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """The generator's loss from the discriminator's logits on its samples and the samples
        themselves: :meth:`g_loss`, plus the weighted :func:`mode_seeking_penalty` where the game
        sets one, and the weighted identity term where it sets that."""
        logits, who = self.split_logits(fake_logits)
        loss = self.with_mode_seeking(self.g_loss(logits), fake)
        return loss if who is None else loss + self.identity * self.identity_loss(who)

    def with_mode_seeking(self, loss: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """``loss`` plus the weighted :func:`mode_seeking_penalty` of the samples ``fake`` where the
        game sets one (``loss`` unchanged otherwise)."""
        if self.mode_seeking:
            loss = loss + self.mode_seeking * mode_seeking_penalty(fake, self.mode_seeking_pool)
        return loss

    # ------------------------------------------------------------------ updates
    def discriminator_update(
        self, generator: Generator, discriminator: Discriminator, real: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """One discriminator step on ``real`` and as many generated samples, the generator detached."""
        with torch.no_grad():
            fake = generator.sample(real.shape[0])
        discriminator.zero_grad()
        loss, real_logits, fake_logits = self.discriminator_loss(discriminator, real, fake)
        discriminator.scaled(loss).backward()
        discriminator.step()
        return {
            "d_loss": loss.detach(),
            "d_real": torch.sigmoid(self.split_logits(real_logits.detach())[0]).mean(),
            "d_fake": torch.sigmoid(self.split_logits(fake_logits.detach())[0]).mean(),
        }

    def generator_update(self, generator: Generator, discriminator: Discriminator, n: int) -> dict[str, torch.Tensor]:
        """One generator step on ``n`` samples; the discriminator's parameters are frozen."""
        with frozen(discriminator.net):
            generator.zero_grad()
            fake = generator.sample(n)
            loss, _ = self.generator_loss(discriminator, fake)
            generator.scaled(loss).backward()
            generator.step()
        return {"g_loss": loss.detach()}

    def update_discriminators(
        self, generators: Sequence[Generator], discriminators: Sequence[Discriminator], real: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The discriminators' step of a round (for a pair: :meth:`discriminator_update`)."""
        return self.discriminator_update(generators[0], discriminators[0], real)

    def update_generators(
        self, generators: Sequence[Generator], discriminators: Sequence[Discriminator], n: int
    ) -> dict[str, torch.Tensor]:
        """The generators' step of a round (for a pair: :meth:`generator_update`)."""
        return self.generator_update(generators[0], discriminators[0], n)

    def play_round(
        self,
        generators: Sequence[Generator],
        discriminators: Sequence[Discriminator],
        real_batch: Callable[[], torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """One minimax round: ``d_steps`` discriminator updates, then one generator update.

        Args:
            generators: the match's generators (one, except in multi-player games).
            discriminators: the match's discriminators (one, except in multi-player games).
            real_batch: returns the next batch of real data; called once per discriminator update.

        Returns:
            detached scalar tensors: ``d_loss``, ``d_real`` and ``d_fake`` (mean D on real and
            generated data, as probabilities) from the last discriminator update, and ``g_loss``.
        """
        d_learns = not all(d.frozen for d in discriminators)
        g_learns = not all(g.frozen for g in generators)
        for _ in range(self.d_steps):
            real = real_batch()
            if d_learns:
                stats = self.update_discriminators(generators, discriminators, real)
            else:  # a league's frozen snapshot: judged, not updated
                with torch.no_grad():
                    real_logits = discriminators[0](real)
                    fake_logits = discriminators[0](generators[0].sample(real.shape[0]))
                    loss = self.discriminator_objective(real_logits, fake_logits)
                stats = {"d_loss": loss, "d_real": torch.sigmoid(self.split_logits(real_logits)[0]).mean(),
                         "d_fake": torch.sigmoid(self.split_logits(fake_logits)[0]).mean()}
        faults.hit("round")  # crash-safety tests kill the process here (arena.core.faults)
        if g_learns:
            stats.update(self.update_generators(generators, discriminators, real.shape[0]))
        else:
            with torch.no_grad():
                stats["g_loss"] = self.generator_loss(discriminators[0], generators[0].sample(real.shape[0]))[0]
        return stats

    # ------------------------------------------------------------------ judgement
    def generator_team_step(self, generator: Generator, fake_logits: Sequence[torch.Tensor] | torch.Tensor,
                            fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """The generator's step from every discriminator's logits on its samples ``fake``, for a game
        whose shape stacks its discriminators (:class:`Shape`): the engine computes the logits of
        all of them at once and hands them here (a tensor with one row per discriminator, or a
        list). Backward and the optimizer step included; the generator's gradients are zeroed and
        ``fake`` drawn by the caller."""
        raise TypeError(f"{type(self).__name__}'s shape stacks {self.shape.stacks!r}: it has no team step")

    def score(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """The discriminator's score in a match, from its outputs on real and generated data: its
        balanced accuracy (the generator scores 1 minus it)."""
        return balanced_accuracy(self.realness(real_logits), self.realness(fake_logits))


@contextmanager
def all_frozen(agents: Sequence) -> Iterator[None]:
    """:func:`frozen` for several agents at once."""
    with ExitStack() as stack:
        for agent in agents:
            stack.enter_context(frozen(agent.net))
        yield
