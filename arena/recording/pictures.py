"""Pictures of samples, drawn as their data's kind calls for, and the callback that saves them.

:func:`picture` draws any set of samples as its data is best seen: image grids, scatter plots
against held-out data and the true modes, 1-D densities with the discriminator's D(x), symbol
histograms. :class:`PictureWriter` saves a picture of each generator's samples at every review.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from agents import Discriminator, evaluating
from arena.core.files import atomic_write
from arena.data import DataSource
from arena.evaluation.metrics import symbol_counts
from arena.tournament.callbacks import Callback, Review

if TYPE_CHECKING:  # pragma: no cover
    from arena.rundir import RunDir
    from arena.tournament.loop import Tournament

__all__ = ["picture", "PictureWriter", "save_image_grid", "save_scatter", "save_density_1d", "save_histogram"]


def _to_unit(x: torch.Tensor, low: float | None, high: float | None) -> np.ndarray:
    x = x.detach().float().cpu()
    if low is None or high is None:
        low, high = float(x.min()), float(x.max())
    return ((x - low) / max(high - low, 1e-8)).clamp(0, 1).numpy()


def save_image_grid(images: torch.Tensor, path: Path, low: float | None = 0.0, high: float | None = 1.0, pad: int = 1) -> None:
    """Tile ``(N, C, H, W)`` images into a square grid PNG, scaled up to be at least ~256 px wide."""
    from PIL import Image

    x = _to_unit(images, low, high)
    n, c, h, w = x.shape
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    grid = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), dtype=np.float32)
    for i in range(n):
        r, k = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        grid[top : top + h, left : left + w] = x[i].transpose(1, 2, 0)
    pixels = (grid * 255).round().astype(np.uint8)
    image = Image.fromarray(pixels[..., 0] if c == 1 else pixels, "L" if c == 1 else "RGB")
    scale = max(1, -(-256 // image.width))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    _write(image.save, path)


def _write(save, path: Path) -> None:
    """``save`` (a figure's or an image's) into memory, then atomically to ``path``: never through a link."""
    buf = io.BytesIO()
    save(buf, format="png")
    atomic_write(path, buf.getvalue())


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def fitted_title(title: str, inches: float) -> str:
    """``title`` broken into lines that fit a figure ``inches`` wide at 9 points (about 13
    characters an inch): a long name (a panel over a mixture) is otherwise cut at both edges."""
    import textwrap

    return "\n".join(textwrap.wrap(title, max(20, int(13 * inches)), break_on_hyphens=False)) if title else ""


def save_scatter(
    samples: torch.Tensor,
    path: Path,
    centers: torch.Tensor | None = None,
    real: torch.Tensor | None = None,
    title: str = "",
) -> None:
    """Scatter plot of 2-D samples (first two coordinates), with the true modes as red crosses."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if real is not None:
        r = real.detach().cpu().numpy()
        ax.scatter(r[:, 0], r[:, 1], s=2, c="0.75", label="real", rasterized=True)
    s = samples.detach().cpu().reshape(samples.shape[0], -1).numpy()
    ax.scatter(s[:, 0], s[:, 1] if s.shape[1] > 1 else np.zeros(len(s)), s=2, c="tab:blue", label="generated", rasterized=True)
    if centers is not None:
        c = centers.detach().cpu().numpy()
        ax.scatter(c[:, 0], c[:, 1], marker="x", s=60, c="red", label="modes")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(fitted_title(title, 5), fontsize=9)
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    fig.tight_layout()
    _write(fig.savefig, path)
    plt.close(fig)


def save_density_1d(
    samples: torch.Tensor,
    path: Path,
    real: torch.Tensor,
    grid: torch.Tensor | None = None,
    d_values: torch.Tensor | None = None,
    title: str = "",
) -> None:
    """The paper's Figure 1: data density, generator density and D(x) on one axis."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    r = real.detach().cpu().flatten().numpy()
    s = samples.detach().cpu().flatten().numpy()
    lo, hi = float(min(r.min(), s.min())), float(max(r.max(), s.max()))
    bins = np.linspace(lo, hi, 60)
    ax.hist(r, bins=bins, density=True, histtype="step", color="black", linestyle=":", label="data")
    ax.hist(s, bins=bins, density=True, histtype="step", color="tab:green", label="generator")
    if grid is not None and d_values is not None:
        ax2 = ax.twinx()
        ax2.plot(grid.cpu().flatten().numpy(), d_values.cpu().flatten().numpy(), color="tab:blue", linestyle="--", label="D(x)")
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("D(x)")
    ax.set_title(fitted_title(title, 6), fontsize=9)
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    _write(fig.savefig, path)
    plt.close(fig)


def save_histogram(samples: torch.Tensor, path: Path, probs: list[float], title: str = "") -> None:
    """Discrete data: the generator's symbol frequencies beside the data's probabilities."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5, 3), dpi=100)
    k = len(probs)
    counts = symbol_counts(samples.detach(), k).numpy()
    x = np.arange(k)
    ax.bar(x - 0.2, probs, width=0.4, color="black", alpha=0.6, label="data")
    ax.bar(x + 0.2, counts / max(counts.sum(), 1), width=0.4, color="tab:green", label="generator")
    ax.set_xticks(x)
    ax.set_title(fitted_title(title, 5), fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _write(fig.savefig, path)
    plt.close(fig)


def picture(samples: torch.Tensor, path: Path, data: DataSource, discriminator: Discriminator | None = None,
            title: str = "", grid: int = 64) -> None:
    """Save the natural picture of ``samples`` of ``data`` to ``path`` (PNG): a grid of the first
    ``grid`` images; a histogram of symbols beside their probabilities; for 1-D points the
    densities of data and samples with ``discriminator``'s D(x); else a scatter plot against
    held-out real data (and the true modes, where the data knows them)."""
    kind = data.kind
    if kind.images:
        save_image_grid(samples[:grid], path, data.low, data.high)
        return
    probs = kind.symbols()
    if probs is not None:
        save_histogram(samples, path, probs, title)
        return
    if data.shape != (1,):
        modes = kind.modes()
        save_scatter(samples, path, modes.centers if modes is not None else None, data.test[:2500], title)
        return
    grid_x = d_values = None
    if discriminator is not None and discriminator.action_space.shape == (1,) and discriminator.pack == 1:
        lo = float(torch.minimum(samples.min(), data.test.min()))
        hi = float(torch.maximum(samples.max(), data.test.max()))
        grid_x = torch.linspace(lo, hi, 200, device=samples.device).unsqueeze(1)
        with evaluating(discriminator), torch.no_grad():
            d_values = torch.sigmoid(discriminator(grid_x))
    save_density_1d(samples, path, data.test[:5000], grid_x, d_values, title)


class PictureWriter(Callback):
    """At every review, a picture of each generator's samples (``samples/<name>-<matching>.png``),
    drawn by :func:`picture` (with the discriminator of its cell beside 1-D samples); of the
    ``review.pictures_max`` best-rated generators where there are more."""

    part = "pictures"

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir

    def on_review(self, tournament: Tournament, review: Review) -> None:
        arena = tournament.arena
        grid, most = tournament.config.review.grid, tournament.config.review.pictures_max
        chosen = {g.name for g in sorted(arena.judged, key=tournament.standings.rating, reverse=True)[:most]}
        for gi, g in enumerate(arena.judged):
            if g.name not in chosen:
                continue
            d = arena.discriminators[gi % len(arena.discriminators)]
            path = self.run_dir.picture(g.name, review.matching)
            picture(review.samples[g.name], path, arena.data, d, f"{g.name} after {review.rounds:,} rounds", grid)
