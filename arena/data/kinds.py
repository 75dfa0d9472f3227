"""Data kinds: one object per kind of data, saying what the rest of the project may know of it.

A :class:`DataKind` names its metrics by their ids in the one metric registry
(:data:`arena.evaluation.measure.metrics`): those measured on every set of samples a review draws
(``metrics``), the generators' progress signal at every review (``signal_metrics``, with
:meth:`DataKind.quality` picking the ``quality`` value out of them), the independent truth a
league checks its ratings against (``truth_metrics``), the discriminators' own check
(:meth:`DataKind.discriminator_metrics`) and what ``arena eval`` offers
(:meth:`DataKind.eval_metrics`). What the data knows of itself is read through typed accessors:
:meth:`DataKind.modes` (a toy mixture's centres and spread), :meth:`DataKind.symbols`
(categorical probabilities), :meth:`DataKind.density` (a density known in closed form) and
``images``. Metrics, pictures and charts read those accessors; a kind imports none of them, so
adding a kind is one class here and, where it needs new metrics, their registrations.

- :class:`Points`: vectors without known structure (``npy``); on 1-D points every review checks
  the discriminators against the equilibrium's D(x) = 1/2.
- :class:`ToyMixture`: points around known centres (ring8, grid25): PacGAN's mode metrics.
- :class:`Density1D`: a 1-D density known in closed form (``gaussian1d``): the equilibrium check.
- :class:`Categorical`: one-hot symbols with known probabilities: total variation.
- :class:`Images`: images: sample diversity during training, Parzen and classifier metrics after.
- :class:`StackedDigits`: Stacked MNIST (three digits, one per channel): modes of 1,000 and KL.

The true modes, symbols and densities are known only to these objects; metrics that judge use
them, nothing that trains, weights or filters does (except the ``oracle-modes`` weighting, named
as an oracle, for toy studies).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

import torch

if TYPE_CHECKING:  # pragma: no cover
    from arena.data.source import DataSource

__all__ = ["DataKind", "Modes", "Points", "ToyMixture", "Density1D", "Categorical", "Images", "StackedDigits"]


@dataclasses.dataclass(frozen=True)
class Modes:
    """The known modes of a toy mixture: Gaussian components of one standard deviation.

    Attributes:
        centers: the ``(K, dim)`` centres.
        std: the standard deviation of every component.
    """

    centers: torch.Tensor
    std: float


class DataKind:
    """The behaviour of one kind of data; the base class is data without known structure."""

    name: ClassVar[str] = "points"
    images: ClassVar[bool] = False
    """Whether samples are images ``(C, H, W)`` (pictured as grids, stored as bytes by the report)."""
    metrics: ClassVar[tuple[str, ...]] = ()
    """Metric ids measured on every set of samples a review draws: each generator's, the mixture's
    and the output's."""
    signal_metrics: ClassVar[tuple[str, ...]] = ()
    """Metric ids measured on each generator at every review; :meth:`quality` reads the progress
    signal from their values."""
    truth_metrics: ClassVar[tuple[str, ...]] = ()
    """Metric ids that judge a generator's true quality where ratings are checked against it
    (``arena league --truth``)."""

    def __str__(self) -> str:
        return self.name

    def to(self, device: torch.device | str) -> DataKind:
        """Move any tensors the kind holds (toy centres) to ``device``."""
        return self

    def quality(self, values: Mapping[str, float]) -> float | None:
        """The review's progress signal (not a loss) from the values of :attr:`signal_metrics`;
        None where the data defines none."""
        return None

    def discriminator_metrics(self, data: DataSource) -> tuple[str, ...]:
        """Metric ids measured on each discriminator at every review (1-D data only)."""
        return ()

    def eval_metrics(self, data: DataSource) -> list[str]:
        """The ids of the ``arena eval`` metrics that apply to ``data``."""
        return []

    def requested_metrics(self, data: DataSource) -> list[str]:
        """The ids of metrics that apply to ``data`` but are measured only when asked for by name
        (they need something the user provides, as Inception FID needs its weights)."""
        return []

    # ------------------------------------------------------------------ what the data knows
    def modes(self) -> Modes | None:
        """The mixture's known modes, or None where the data has none."""
        return None

    def symbols(self) -> list[float] | None:
        """The probabilities of the data's one-hot symbols, or None where it has none."""
        return None

    def density(self, x: torch.Tensor) -> torch.Tensor | None:
        """p_data at every point of ``x`` (float64) where it is known in closed form, else None."""
        return None

    def digits(self) -> DataSource | None:
        """The labelled digit set a stacked-digit metric's classifier learns, or None."""
        return None


class Points(DataKind):
    """Real-valued vectors with no known structure. On 1-D data, every review records how far
    each discriminator is from the equilibrium's D(x) = 1/2 on held-out real data."""

    def discriminator_metrics(self, data):
        return ("d_equilibrium",) if data.shape == (1,) else ()


class ToyMixture(Points):
    """Gaussian components of one standard deviation around known centres (PacGAN's ring8, grid25).

    Args:
        centers: the ``(K, dim)`` centres.
        std: the standard deviation of every component.
    """

    name = "toy mixture"
    metrics = ("modes",)
    signal_metrics = ("modes",)
    truth_metrics = ("modes", "mode_tv")

    def __init__(self, centers: torch.Tensor, std: float) -> None:
        self._modes = Modes(centers, float(std))

    def to(self, device):
        self._modes = Modes(self._modes.centers.to(device), self._modes.std)
        return self

    def quality(self, values):
        return values["high_quality"]

    def eval_metrics(self, data):
        return ["modes", "spread", "mode_tv"]

    def modes(self):
        return self._modes


class Density1D(Points):
    """One Gaussian on the line (the paper's Figure 1), its density known in closed form.

    Args:
        mean, std: the Gaussian's parameters.
    """

    name = "1-D density"

    def __init__(self, mean: float, std: float) -> None:
        self.mean, self.std = float(mean), float(std)

    def density(self, x):
        return torch.exp(-0.5 * ((x.flatten().double() - self.mean) / self.std) ** 2) / (self.std * math.sqrt(2 * math.pi))

    def eval_metrics(self, data):
        return ["equilibrium"]


class Categorical(DataKind):
    """One-hot symbols drawn with known probabilities.

    Args:
        probs: the symbols' probabilities (summing to 1).
    """

    name = "categorical"
    metrics = ("histogram",)
    signal_metrics = ("histogram",)
    truth_metrics = ("histogram",)

    def __init__(self, probs: Sequence[float]) -> None:
        self._probs = [float(p) for p in probs]

    def quality(self, values):
        return 1.0 - values["tv"]

    def eval_metrics(self, data):
        return ["histogram"]

    def symbols(self):
        return list(self._probs)


class Images(DataKind):
    """Images ``(C, H, W)``. During training the signal is the diversity of samples against the
    data's (mean pairwise distance); ``arena eval`` adds the Parzen window and, on labelled
    images, a classifier's Frechet distance, precision, recall and class coverage."""

    name = "images"
    images = True
    signal_metrics = ("diversity",)

    def quality(self, values):
        return values["diversity"]

    def eval_metrics(self, data):
        return ["parzen", *(["fd", "precision_recall", "coverage"] if data.labels else [])]

    def requested_metrics(self, data):
        return ["fid_inception", "kid_inception"]


class StackedDigits(Images):
    """Stacked MNIST (:mod:`arena.data.stacked`): three digits, one per channel, 1,000 modes. Every
    review measures each generator's modes covered and KL(triple histogram || uniform) with a digit
    classifier trained on the base digits (:meth:`digits`); nothing else reads the digits' labels.

    Args:
        base: the single-channel labelled digit set the triples are drawn from.
    """

    name = "stacked digits"
    metrics = ("stacked_modes",)
    signal_metrics = ("diversity", "stacked_modes")
    truth_metrics = ("stacked_modes",)

    def __init__(self, base: DataSource) -> None:
        self._base = base

    def quality(self, values):
        return values["modes"] / 1000.0

    def eval_metrics(self, data):
        return ["stacked_modes"]

    def requested_metrics(self, data):
        return [*super().requested_metrics(data), "stacked_digits"]

    def digits(self) -> DataSource:
        """The base digit set with its labels: what the judging classifier learns."""
        return self._base
