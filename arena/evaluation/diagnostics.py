"""Warnings about the hard parts of GAN training, shown live and written to ``metrics.jsonl``.

- **Mode collapse**: on toy mixtures, the modes a generator covers fall well below the best it
  reached; on images, the diversity of its samples (mean pairwise distance, relative to real
  data) falls low.
- **Oscillating losses**: the discriminator's loss keeps reversing direction with a swing large
  against its level over the last logging periods.
- **A progress signal that is not the generator's loss** (which says little about sample
  quality): every evaluation records ``quality``, the data's own measure (% high-quality samples
  on toy mixtures, sample diversity on images, 1 - 2 mean |D(x) - 1/2| on gaussian1d).
"""

from __future__ import annotations

from collections import deque

import torch

__all__ = ["Diagnostics", "diversity", "oscillation"]


def diversity(samples: torch.Tensor, reference: torch.Tensor, n: int = 500) -> float:
    """Mean pairwise distance of ``samples`` divided by that of ``reference`` (1 = as diverse as the data)."""

    def spread(x: torch.Tensor) -> float:
        x = x[:n].reshape(min(n, x.shape[0]), -1).double()
        return float(torch.pdist(x).mean()) if x.shape[0] > 1 else 0.0

    ref = spread(reference)
    return spread(samples) / ref if ref > 0 else 0.0


def oscillation(values: list[float]) -> tuple[float, float]:
    """``(reversal share, relative swing)`` of a series: how often successive changes flip sign,
    and the mean absolute change relative to the mean absolute level."""
    if len(values) < 3:
        return 0.0, 0.0
    diffs = [b - a for a, b in zip(values, values[1:])]
    flips = sum(1 for a, b in zip(diffs, diffs[1:]) if a * b < 0) / (len(diffs) - 1)
    level = sum(abs(v) for v in values) / len(values)
    swing = sum(abs(d) for d in diffs) / len(diffs)
    return flips, (swing / level if level > 0 else 0.0)


class Diagnostics:
    """Turns training and evaluation records into warnings.

    Args:
        window: logging periods of losses examined for oscillation.
        collapse_drop: a fall of this share below the best mode coverage counts as collapse.
        min_diversity: image samples less diverse than this share of the data's diversity count as collapse.
        flips: share of direction reversals above which a loss oscillates...
        swing: ...when its mean change is also above this share of its level.
    """

    def __init__(
        self,
        window: int = 8,
        collapse_drop: float = 0.25,
        min_diversity: float = 0.5,
        flips: float = 0.7,
        swing: float = 0.3,
    ) -> None:
        self.window, self.collapse_drop, self.min_diversity = window, collapse_drop, min_diversity
        self.flips, self.swing = flips, swing
        self.best_modes: dict[str, int] = {}
        self.losses: dict[tuple[str, str], deque[float]] = {}
        self.warned: set[tuple[str, str]] = set()

    def _once(self, key: tuple[str, str], message: str) -> list[str]:
        """A warning is given once per condition until the condition clears."""
        if key in self.warned:
            return []
        self.warned.add(key)
        return [message]

    def on_train(self, generator: str, discriminator: str, d_loss: float) -> list[str]:
        series = self.losses.setdefault((generator, discriminator), deque(maxlen=self.window))
        series.append(d_loss)
        key = ("oscillation", f"{generator}/{discriminator}")
        if len(series) == self.window:
            flips, swing = oscillation(list(series))
            if flips >= self.flips and swing >= self.swing:
                return self._once(key, f"oscillating losses: {discriminator}'s d_loss against {generator} reversed "
                                       f"direction in {flips:.0%} of the last {self.window} periods, swinging "
                                       f"{swing:.0%} of its level")
        self.warned.discard(key)
        return []

    def on_eval(self, agent: str, metrics: dict[str, float]) -> list[str]:
        out: list[str] = []
        if "modes" in metrics:
            modes = int(metrics["modes"])
            best = max(self.best_modes.get(agent, 0), modes)
            self.best_modes[agent] = best
            key = ("collapse", agent)
            if best >= 2 and modes <= (1 - self.collapse_drop) * best:
                out += self._once(key, f"mode collapse: {agent} covers {modes} modes, down from {best}")
            else:
                self.warned.discard(key)
        if "diversity" in metrics:
            key = ("diversity", agent)
            if metrics["diversity"] < self.min_diversity:
                out += self._once(key, f"mode collapse: {agent}'s samples are {metrics['diversity']:.2f} as diverse "
                                       f"as the data (below {self.min_diversity})")
            else:
                self.warned.discard(key)
        return out

    def state_dict(self) -> dict:
        return {
            "best_modes": dict(self.best_modes),
            "losses": [[g, d, list(v)] for (g, d), v in self.losses.items()],
            "warned": [list(k) for k in sorted(self.warned)],
        }

    def load_state_dict(self, state: dict) -> None:
        self.best_modes = dict(state.get("best_modes", {}))
        self.losses = {(g, d): deque(v, maxlen=self.window) for g, d, v in state.get("losses", [])}
        self.warned = {tuple(k) for k in state.get("warned", [])}
