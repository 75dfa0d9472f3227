"""The panel's section of a run config (:class:`PanelConfig`) and its stages: refinement, and the
support, balance and renoise stages, which only make sense on low-dimensional data (a run on
images refuses them). Exported by :mod:`arena.config`."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from arena.core.errors import ConfigError
from arena.core.typecheck import Ge, Gt, Le

__all__ = ["PanelConfig", "RefineConfig", "BalanceConfig", "SupportConfig", "RenoiseConfig"]


@dataclasses.dataclass
class RefineConfig:
    """The panel's refinement: gradient steps up the panel's average logit on every candidate
    before it is judged (collaborative sampling, Liu et al. 2020)."""

    steps: Annotated[int, Ge(0)] = 0
    """Steps per candidate (0: no refinement)."""
    lr: Annotated[float, Gt(0)] = 0.01
    """The length of each step, in the data's units."""
    to: Literal["peak", "real"] = "peak"
    """How far a candidate climbs: ``peak``, every step (candidates gather near the logit's
    maxima, which contracts each mode); ``real``, until its logit reaches a level of the held-out
    real data's logits (the candidates' own levels mapped monotonically onto the real data's,
    fixed at calibration), which contracts less where the logit falls with the distance from a
    mode and sharpens less."""


@dataclasses.dataclass
class BalanceConfig:
    """A last stage for low-dimensional data: rejection by a kernel estimate of the density ratio
    between held-out real data and the panel's output, which evens out the mass between regions
    (modes) that the discriminators judge poorly."""

    acceptance: Annotated[float, Gt(0), Le(1)] = 0.4
    """The mean rate at which the balance accepts the panel's output (lower: closer to exact ratio
    rejection, more even, more candidates drawn)."""
    bandwidth: Annotated[float, Gt(0)] | None = None
    """The kernel's width in the data's units (default: Scott's rule on the held-out data)."""


@dataclasses.dataclass
class SupportConfig:
    """A stage for low-dimensional data: a candidate is accepted only inside the k-nearest-neighbour
    ball of at least one held-out real sample, both refined alike (the manifold of improved
    precision). It rejects what refinement leaves where real data never goes: on a ridge or a
    spurious maximum of the logit."""

    neighbours: Annotated[int, Ge(1)] = 3
    """k: each ball reaches a held-out sample's k-th nearest neighbour among the panel's
    ``calibration`` held-out samples (larger: wider balls, fewer rejections)."""


@dataclasses.dataclass
class RenoiseConfig:
    """A last stage for low-dimensional data that refines: every accepted sample gets back the noise
    the refinement takes from real data, a Gaussian draw fitted to the residuals
    ``x - refine(x)`` of its nearest held-out real samples (nearest after refinement). Refining
    to the peak contracts every mode to a point; this restores the data's spread about it."""

    neighbours: Annotated[int, Ge(2)] = 50
    """Held-out samples whose residuals each sample's noise is fitted to."""


@dataclasses.dataclass
class PanelConfig:
    """A panel of discriminators that judges the output's samples (:mod:`arena.output.panel`):
    calibrated discriminator rejection sampling (Azadi et al. 2019), optionally after refinement,
    with optional stages after it. A stage left out (or null) is off."""

    enabled: bool = False
    """Filter the output (the mixture) through the panel: what ``arena sample --mixture`` draws
    and what every review measures as the ``output`` (``--no-panel`` reads it unfiltered)."""
    judges: Annotated[int, Ge(0)] = 0
    """The panel: the ``judges`` best-rated discriminators (0: every active one)."""
    acceptance: Annotated[float, Gt(0), Le(1)] = 0.5
    """The mean rate at which candidates are accepted: the rejection's shift ``gamma`` is set at
    calibration to give it (unless ``gamma`` is set)."""
    gamma: float | None = None
    """A fixed shift instead: 0 accepts with probability exp(logit - M) (exact density-ratio
    rejection), more rejects more, less rejects less."""
    sharpness: Annotated[float, Gt(0)] = 1.0
    """The slope ``s`` of the acceptance ``sigmoid(s * F)``: 1 is discriminator rejection sampling
    as published; above 1 the lowest-scored candidates are rejected first (sharper samples at
    the same acceptance rate, and a harder threshold, which can drop modes, as it grows)."""
    calibration: Annotated[int, Ge(100)] = 5000
    """Candidates (and held-out real samples) that calibrate the panel's logit and fix M."""
    max_candidates: Annotated[int, Ge(1)] = 50
    """At most this many candidates per sample asked for."""
    refine: RefineConfig = dataclasses.field(default_factory=RefineConfig)
    """Gradient steps up the panel's logit before judging (``steps: 0``: none)."""
    support: SupportConfig | None = None
    """Reject candidates outside the refined held-out data's k-NN balls (low-dimensional data)."""
    balance: BalanceConfig | None = None
    """Even out the modes by a kernel density ratio (low-dimensional data)."""
    renoise: RenoiseConfig | None = None
    """Give accepted samples back the noise refinement takes (low-dimensional data; needs refine)."""

    def validate(self) -> None:
        if self.renoise is not None and not self.refine.steps:
            raise ConfigError("the renoise stage puts back the noise that the panel's refinement takes away, and "
                              "refine.steps is 0; set refine.steps, or leave renoise out", ("renoise",))
        if self.support is not None and self.support.neighbours >= self.calibration:
            raise ConfigError(f"the support stage draws a ball to each held-out sample's k-th neighbour among the "
                              f"panel's {self.calibration} (calibration): neighbours must be smaller",
                              ("support", "neighbours"))

    @property
    def low_dimensional_stages(self) -> list[str]:
        """The stages on that only make sense in low dimension (kernel and k-NN estimates on the data)."""
        return [name for name in ("support", "balance", "renoise") if getattr(self, name) is not None]
