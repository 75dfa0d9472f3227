"""Data kinds: one object per kind of data, owning everything that depends on it.

A :class:`DataKind` says which metrics a set of samples gets (and which of them is the
``quality`` progress signal recorded at every evaluation), how samples are pictured, which
``arena eval`` metrics apply, and, where the data has named bins (the modes of a toy mixture,
the symbols of categorical data), the histogram of samples over them. Every data source builds
its kind; nothing else asks what kind of data it holds.

- :class:`ToyMixture`: points around known centres (ring8, grid25): PacGAN's mode metrics.
- :class:`Points`: vectors without known structure (``npy``); 1-D points are pictured as a
  density with D(x) and their discriminators are checked against 1/2.
- :class:`Density1D`: a 1-D density known in closed form (``gaussian1d``): the equilibrium check.
- :class:`Categorical`: one-hot symbols with known probabilities: total variation.
- :class:`Images`: images: sample diversity during training, Parzen and classifier metrics after.

The true modes, symbols and densities are known only to these objects; metrics that judge use
them, nothing that trains, weights or filters does.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import torch

from arena.evaluation.metrics import categorical_metrics, mode_counts, mode_metrics, mode_tv, symbol_counts

if TYPE_CHECKING:  # pragma: no cover
    from agents import Discriminator
    from arena.data.source import DataSource

__all__ = ["DataKind", "Points", "ToyMixture", "Density1D", "Categorical", "Images"]


class DataKind(abc.ABC):
    """The behaviour of one kind of data; the base class is data without known structure."""

    name: ClassVar[str] = "points"

    def __str__(self) -> str:
        return self.name

    def to(self, device: torch.device | str) -> DataKind:
        """Move any tensors the kind holds (toy centres) to ``device``."""
        return self

    # ------------------------------------------------------------------ metrics
    def metrics(self, samples: torch.Tensor, data: DataSource) -> dict[str, float]:
        """The metrics the data defines for any set of samples (a generator's, a mixture's)."""
        return {}

    def truth(self, samples: torch.Tensor, data: DataSource) -> dict[str, float]:
        """The metrics that judge a generator's true quality where ratings are checked against it
        (``arena league --truth``): :meth:`metrics`, and for toy mixtures ``mode_tv``."""
        return self.metrics(samples, data)

    def signal(self, samples: torch.Tensor, data: DataSource) -> dict[str, float]:
        """The metrics recorded for a generator at every evaluation during training, ending with
        ``quality``, a progress signal that is not the generator's loss; empty where the data
        defines none."""
        return self.metrics(samples, data)

    def discriminator_signal(self, discriminators: Sequence[Discriminator], data: DataSource) -> list[tuple[str, dict[str, float]]]:
        """Metrics of discriminators recorded at every evaluation, by name (1-D data only)."""
        return []

    def eval_metrics(self, data: DataSource) -> list[str]:
        """The ids of the ``arena eval`` metrics (:data:`arena.evaluation.measure.metrics`) that apply."""
        return []

    def histogram(self, samples: torch.Tensor) -> torch.Tensor | None:
        """The share of ``samples`` in each of the data's bins (modes, symbols), or None where the
        data has none; the shares may sum to less than 1 (samples off every bin)."""
        return None

    def target(self) -> torch.Tensor | None:
        """The data's own probability of each bin of :meth:`histogram`."""
        return None

    # ------------------------------------------------------------------ pictures
    @abc.abstractmethod
    def picture(self, samples: torch.Tensor, path: Path, data: DataSource, discriminator: Discriminator | None = None,
                title: str = "", grid: int = 64) -> None:
        """Save the natural picture of ``samples`` to ``path`` (PNG).

        Args:
            discriminator: drawn beside 1-D samples as D(x).
            grid: images shown (image data only).
        """


class Points(DataKind):
    """Real-valued vectors with no known structure. On 1-D data, every evaluation records how far
    each discriminator is from the equilibrium's D(x) = 1/2 on held-out real data."""

    centers: torch.Tensor | None = None
    """Known centres, marked in scatter plots (toy mixtures)."""

    def picture(self, samples, path, data, discriminator=None, title="", grid=64):
        """A scatter plot against held-out real data (and the centres), or for 1-D data the
        densities of data and samples with the discriminator's D(x)."""
        from arena.rundir.pictures import save_density_1d, save_scatter

        if data.shape != (1,):
            save_scatter(samples, path, self.centers, data.test[:2500], title)
            return
        grid_x = d_values = None
        if discriminator is not None and discriminator.action_space.shape == (1,) and getattr(discriminator, "pack", 1) == 1:
            lo = float(torch.minimum(samples.min(), data.test.min()))
            hi = float(torch.maximum(samples.max(), data.test.max()))
            grid_x = torch.linspace(lo, hi, 200, device=samples.device).unsqueeze(1)
            discriminator.eval()
            try:
                with torch.no_grad():
                    d_values = torch.sigmoid(discriminator(grid_x))
            finally:
                discriminator.train()
        save_density_1d(samples, path, data.test[:5000], grid_x, d_values, title)

    def discriminator_signal(self, discriminators, data):
        if data.shape != (1,):
            return []
        real = data.test
        out = []
        for d in discriminators:
            if d.action_space.shape != (1,):
                continue
            d.eval()
            with torch.no_grad():
                p = torch.sigmoid(d(real))
            d.train()
            gap = float((p - 0.5).abs().mean())
            out.append((d.name, {"d_real": float(p.mean()), "d_gap": gap, "quality": 1 - 2 * gap}))
        return out


class ToyMixture(Points):
    """Gaussian components of one standard deviation around known centres (PacGAN's ring8, grid25).

    Args:
        centers: the ``(K, dim)`` centres.
        std: the standard deviation of every component.
    """

    name = "toy mixture"

    def __init__(self, centers: torch.Tensor, std: float) -> None:
        self.centers = centers
        self.std = float(std)

    def to(self, device):
        self.centers = self.centers.to(device)
        return self

    def metrics(self, samples, data):
        return mode_metrics(samples, self.centers, self.std)

    def signal(self, samples, data):
        out = self.metrics(samples, data)
        out["quality"] = out["high_quality"]
        return out

    def truth(self, samples, data):
        return {**self.metrics(samples, data), **mode_tv(samples, self.centers, self.std)}

    def eval_metrics(self, data):
        return ["modes", "spread", "mode_tv"]

    def histogram(self, samples):
        return mode_counts(samples, self.centers, self.std) / samples.shape[0]

    def target(self):
        return torch.ones(self.centers.shape[0])


class Density1D(Points):
    """One Gaussian on the line (the paper's Figure 1), its density known in closed form.

    Args:
        mean, std: the Gaussian's parameters.
    """

    name = "1-D density"

    def __init__(self, mean: float, std: float) -> None:
        self.mean, self.std = float(mean), float(std)

    def density(self, x: torch.Tensor) -> torch.Tensor:
        """p_data at every point of ``x`` (float64)."""
        return torch.exp(-0.5 * ((x.flatten().double() - self.mean) / self.std) ** 2) / (self.std * math.sqrt(2 * math.pi))

    def eval_metrics(self, data):
        return ["equilibrium"]


class Categorical(DataKind):
    """One-hot symbols drawn with known probabilities.

    Args:
        probs: the symbols' probabilities (summing to 1).
    """

    name = "categorical"

    def __init__(self, probs: Sequence[float]) -> None:
        self.probs = [float(p) for p in probs]

    def metrics(self, samples, data):
        out = categorical_metrics(samples, self.probs)
        return {**out, "quality": 1.0 - out["tv"]}

    def eval_metrics(self, data):
        return ["histogram"]

    def histogram(self, samples):
        return symbol_counts(samples, len(self.probs)) / samples.shape[0]

    def target(self):
        return torch.tensor(self.probs)

    def picture(self, samples, path, data, discriminator=None, title="", grid=64):
        from arena.rundir.pictures import save_histogram

        save_histogram(samples, path, self.probs, title)


class Images(DataKind):
    """Images ``(C, H, W)``. During training the signal is the diversity of samples against the
    data's (mean pairwise distance); ``arena eval`` adds the Parzen window and, on labelled
    images, a classifier's Frechet distance, precision, recall and class coverage."""

    name = "images"

    def signal(self, samples, data):
        from arena.evaluation.diagnostics import diversity

        value = diversity(samples, data.test)
        return {"diversity": value, "quality": value}

    def eval_metrics(self, data):
        return ["parzen", *(["fd", "precision_recall", "coverage"] if data.labels else [])]

    def picture(self, samples, path, data, discriminator=None, title="", grid=64):
        from arena.rundir.pictures import save_image_grid

        save_image_grid(samples[:grid], path, data.low, data.high)
