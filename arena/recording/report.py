"""The callback that keeps a run's report: at every review it saves each generator's (and the
mixture's) samples from fixed latent draws, and when the run ends it writes ``report.html``."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from agents import draw_samples
from arena.core.seeding import derive_seed
from arena.output.mixture import mixture_from_record
from arena.rundir import RunDir
from arena.tournament.callbacks import Callback

__all__ = ["ReportWriter", "FIXED_POINTS", "FIXED_IMAGES"]

FIXED_POINTS = 500
"""Fixed-latent samples kept per generator and review (points, symbols)."""
FIXED_IMAGES = 16
"""... and on image data."""


def _stored(x: torch.Tensor, data) -> np.ndarray:
    """Samples as the report keeps them: images as bytes in [0, 255], anything else as float32."""
    x = x.detach().float().cpu()
    if data.kind.images and data.low is not None and data.high is not None:
        return ((x - data.low) / (data.high - data.low)).clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
    return x.numpy()


class ReportWriter(Callback):
    """Fixed-latent samples at every review, and the report when the run ends.

    Args:
        run_dir: the run directory.
        progress: reports the report's drawing (``task, done, total``), for the terminal.
    """

    part = "report"

    def __init__(self, run_dir: RunDir, progress=None) -> None:
        self.run_dir = run_dir
        self.progress = progress

    def on_review(self, tournament, review) -> None:
        arena, seed = tournament.arena, tournament.config.seed
        n = FIXED_IMAGES if arena.data.kind.images else FIXED_POINTS
        fixed = {g.name: _stored(draw_samples(g.output(), n, derive_seed(seed, "report", g.name)), arena.data)
                 for g in arena.judged}
        if review.output and len(arena.judged) > 1:
            mixture = mixture_from_record(review.output, lambda name: arena.generator(name).output())
            fixed["mixture"] = _stored(draw_samples(mixture, n, derive_seed(seed, "report", "mixture")), arena.data)
        self.run_dir.save_fixed_samples(review.matching, fixed)

    def on_run_end(self, tournament) -> None:
        from arena.report.build import build_report

        try:
            build_report(self.run_dir.path, progress=self.progress)
        except Exception as exc:  # the run's results are safe; only the page is missing
            warnings.warn(f"the report was not written ({type(exc).__name__}: {exc}); "
                          f"`arena report {self.run_dir.path}` tries again", RuntimeWarning, stacklevel=2)
