"""What a review hands on: the output record.

At every review the tournament chooses its output (:mod:`arena.tournament.review`): the mixture of
its best generators, their weights, the mixture's figures on fresh samples and, where the config
turns it on, the discriminator panel that filters it, with its calibration, its acceptance and the
figures of what it accepts. :class:`OutputRecord` is that choice as one typed, versioned value. The
loop keeps it in its standings (and checkpoints), ``mixture.json`` and the leaderboard store it
(through :class:`arena.rundir.RunDir`), and every reader (the API, the command line, the report,
TensorBoard) reads its fields. :meth:`OutputRecord.from_dict` also reads the unversioned records
that runs wrote before it existed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from arena.core.errors import RunDirError

__all__ = ["OUTPUT_RECORD_VERSION", "OutputRecord", "PanelRecord"]

OUTPUT_RECORD_VERSION = 1
"""The layout :meth:`OutputRecord.as_dict` writes. Records without a version are of the layout
before it, which is the same less the version."""


@dataclasses.dataclass
class PanelRecord:
    """The discriminator panel over the mixture at one review.

    Attributes:
        calibration: the panel's state as :meth:`arena.output.panel.Panel.state` gives it (its
            judges by name, the calibration's constants, its stages' settings): what
            :func:`arena.output.sampler.panel_from_state` rebuilds it from.
        acceptance: the share of candidates it accepted while the review drew from it.
        metrics: the figures of the samples it accepted; None where it failed.
        classifier: the classifier that judged them, where a metric reads one.
        failed: why the panel could not give the review's samples (it accepted too few), else None.
    """

    calibration: dict[str, Any]
    acceptance: float
    metrics: dict[str, Any] | None = None
    classifier: str | None = None
    failed: str | None = None

    @property
    def judges(self) -> list[str]:
        """The discriminators that judge, by name."""
        return list(self.calibration["judges"])

    def as_dict(self) -> dict[str, Any]:
        out = {**self.calibration, "acceptance": self.acceptance}
        if self.failed is not None:
            return {**out, "failed": self.failed}
        out["metrics"] = self.metrics
        if self.classifier is not None:
            out["classifier"] = self.classifier
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PanelRecord:
        own = ("acceptance", "metrics", "classifier", "failed")
        return cls({k: v for k, v in d.items() if k not in own}, float(d["acceptance"]), d.get("metrics"),
                   d.get("classifier"), d.get("failed"))


@dataclasses.dataclass
class OutputRecord:
    """The output a review chose.

    Attributes:
        components: the mixture's generators, by name, best-rated first.
        weights: their weights (summing to 1).
        matching: the matching it was chosen at.
        metrics: the mixture's figures on fresh samples, unfiltered.
        classifier: the classifier that judged them, where a metric reads one.
        panel: the discriminator panel over it, where the config turns one on.
        version: :data:`OUTPUT_RECORD_VERSION`.
    """

    components: list[str]
    weights: list[float]
    matching: int
    metrics: dict[str, Any]
    classifier: str | None = None
    panel: PanelRecord | None = None
    version: int = OUTPUT_RECORD_VERSION

    @property
    def filtered(self) -> bool:
        """Whether the output is the mixture through its panel (a panel that did not fail)."""
        return self.panel is not None and self.panel.failed is None

    @property
    def figures(self) -> dict[str, Any]:
        """The output's figures: the panel's where it filters, else the mixture's."""
        if self.panel is not None and self.panel.failed is None:
            return self.panel.metrics or {}
        return self.metrics

    def as_dict(self) -> dict[str, Any]:
        """The record as ``mixture.json`` stores it."""
        out: dict[str, Any] = {"components": list(self.components), "weights": list(self.weights),
                               "matching": self.matching, "metrics": self.metrics}
        if self.classifier is not None:
            out["classifier"] = self.classifier
        if self.panel is not None:
            out["panel"] = self.panel.as_dict()
        out["version"] = self.version
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "the output record") -> OutputRecord:
        """Read a record (this version's or an unversioned one of before it).

        Raises:
            RunDirError: a record of a newer version, or one without the fields every version has.
        """
        version = d.get("version", 0)
        if not isinstance(version, int) or version > OUTPUT_RECORD_VERSION:
            raise RunDirError(f"{source}: an output record of version {version!r}, newer than this gan-arena reads "
                              f"({OUTPUT_RECORD_VERSION}); upgrade gan-arena to read it")
        try:
            return cls([str(c) for c in d["components"]], [float(w) for w in d["weights"]], int(d.get("matching", 0)),
                       dict(d.get("metrics") or {}), d.get("classifier"),
                       PanelRecord.from_dict(d["panel"]) if d.get("panel") else None, OUTPUT_RECORD_VERSION)
        except (KeyError, TypeError, ValueError) as exc:
            raise RunDirError(f"{source}: not an output record ({type(exc).__name__}: {exc})") from None
