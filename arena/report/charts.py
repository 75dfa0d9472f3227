"""The report's charts: matplotlib figures embedded as PNG data URIs, so the page needs no
server, no network and no script library to show them.

Every chart that has a time axis uses the matching as its x axis and marks warnings (orange),
divergence (red) and selections (grey) on it, so events line up with the curves they explain.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from arena.report.collect import RunRecord
from arena.rundir.metrics_log import is_number

__all__ = ["uri", "ratings_chart", "payoff_chart", "payoff_history_chart", "lineage_chart", "samples_chart",
           "training_chart", "metrics_chart", "seeds_chart"]

_EVENT_COLOURS = {"warning": "tab:orange", "divergence": "tab:red", "selection": "0.6"}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def uri(fig) -> str:
    """A ``data:image/png;base64,...`` URI of ``fig`` (which is closed)."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _events(ax, events: Sequence[dict[str, Any]]) -> None:
    seen = set()
    for e in events:
        if e["kind"] == "selection" and not e.get("parent"):
            continue
        label = e["kind"] if e["kind"] not in seen else None
        seen.add(e["kind"])
        ax.axvline(e["matching"], color=_EVENT_COLOURS[e["kind"]], lw=0.8, ls="--", alpha=0.7, label=label)


def ratings_chart(run: RunRecord) -> str | None:
    """Each agent's rating after every review, with a band of one uncertainty (where the
    system has one); generators and discriminators side by side."""
    if not run.ratings:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), dpi=90, sharey=True)
    names = list(dict.fromkeys(n for r in run.ratings for n in r["ratings"]))
    generators = {n for p in run.results for n in p["generators"]}
    for ax, role, pool in ((axes[0], "generators", [n for n in names if n in generators]),
                           (axes[1], "discriminators", [n for n in names if n not in generators])):
        for name in pool:
            xs = [r["matching"] for r in run.ratings if name in r["ratings"]]
            ys = np.array([r["ratings"][name][0] for r in run.ratings if name in r["ratings"]])
            line, = ax.plot(xs, ys, marker=".", lw=1.2, label=name)
            unc = [r["ratings"][name][1] for r in run.ratings if name in r["ratings"]]
            if all(u is not None for u in unc):
                u = np.array(unc, dtype=float)
                ax.fill_between(xs, ys - u, ys + u, color=line.get_color(), alpha=0.12)
        _events(ax, [e for e in run.events if e["kind"] == "selection"])
        ax.set_title(f"{role} ({len(pool)})", fontsize=10)
        ax.set_xlabel("matching")
        if len(pool) <= 10:  # a legend of dozens of names is slow to draw and unreadable
            ax.legend(fontsize=7, ncol=2, loc="upper left")
    axes[0].set_ylabel(f"rating ({run.config['ratings']['system']})")
    fig.tight_layout()
    return uri(fig)


def _heatmap(ax, period: dict[str, Any], small: bool = False):
    payoff = np.array([[np.nan if c is None else c for c in row] for row in period["payoff"]], dtype=float)
    im = ax.imshow(payoff, vmin=0.0, vmax=1.0, cmap="RdBu_r")
    labelled = max(payoff.shape) <= (12 if small else 40)  # dozens of tick labels per small multiple cost seconds
    ax.set_xticks(range(len(period["discriminators"])) if labelled else [])
    ax.set_yticks(range(len(period["generators"])) if labelled else [])
    if labelled:
        ax.set_xticklabels(period["discriminators"], rotation=90, fontsize=6 if small else 8)
        ax.set_yticklabels(period["generators"], fontsize=6 if small else 8)
    if not small and payoff.size <= 144:
        for (i, j), v in np.ndenumerate(payoff):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if abs(v - 0.5) > 0.3 else "black")
    return im


def payoff_chart(run: RunRecord) -> str | None:
    """The latest payoff matrix: each discriminator's score against each generator (its balanced
    accuracy by default; 0.5 is a draw, red favours the discriminator)."""
    if not run.results:
        return None
    plt = _plt()
    period = run.results[-1]
    n, m = len(period["generators"]), len(period["discriminators"])
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * max(m, 3), 1.0 + 0.45 * max(n, 3)), dpi=90)
    im = _heatmap(ax, period)
    ax.set_xlabel("discriminator")
    ax.set_ylabel("generator")
    ax.set_title(f"after matching {period['matching']}", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="discriminator's score")
    fig.tight_layout()
    return uri(fig)


def _spread(items: Sequence, k: int) -> list:
    """At most ``k`` items spread evenly, the first and the last included."""
    if len(items) <= k:
        return list(items)
    idx = np.linspace(0, len(items) - 1, k).round().astype(int)
    return [items[i] for i in sorted(set(idx.tolist()))]


def payoff_history_chart(run: RunRecord) -> str | None:
    """The payoff matrix over time: up to eight reviews as small multiples."""
    if len(run.results) < 2:
        return None
    plt = _plt()
    periods = _spread(run.results, 8)
    fig, axes = plt.subplots(1, len(periods), figsize=(1.6 * len(periods) + 0.6, 2.2), dpi=90, squeeze=False)
    for ax, period in zip(axes[0], periods):
        _heatmap(ax, period, small=True)
        ax.set_title(f"matching {period['matching']}", fontsize=8)
    fig.tight_layout()
    return uri(fig)


def lineage_chart(run: RunRecord) -> str | None:
    """Selection as a graph: one lane per agent, time to the right; an arrow from the parent's lane
    to the lane of the agent it replaced, at the matching of the replacement."""
    copies = [r for r in run.lineage if r.get("parent")]
    if not copies:
        return None
    plt = _plt()
    lanes = list(dict.fromkeys(n for r in copies for n in (r["parent"], r["replaced"])))
    roles = {r["replaced"]: r["role"] for r in copies} | {r["parent"]: r["role"] for r in copies}
    lanes.sort(key=lambda n: (roles[n] != "generator", n))
    y = {n: i for i, n in enumerate(lanes)}
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(lanes) + 1.2), dpi=90)
    end = max(run.completed, max(r["matching"] for r in copies))
    for n in lanes:
        ax.plot([0, end], [y[n], y[n]], color="0.85", lw=6, solid_capstyle="butt", zorder=1)
    for r in copies:
        colour = "tab:green" if r["role"] == "generator" else "tab:purple"
        ax.annotate("", xy=(r["matching"], y[r["replaced"]]), xytext=(r["matching"], y[r["parent"]]),
                    arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 2.0, "mutation_scale": 14,
                                "connectionstyle": "arc3,rad=0.35", "shrinkA": 4, "shrinkB": 4}, zorder=3)
        ax.plot([r["matching"]], [y[r["parent"]]], "o", color=colour, ms=5, zorder=4)
        ax.text(r["matching"] + 0.01 * end, y[r["replaced"]] - 0.3, f"lr {r['lr']:.2g}", fontsize=7, zorder=4)
    ax.set_yticks(range(len(lanes)))
    ax.set_yticklabels(lanes, fontsize=8)
    ax.set_xlim(0, end * 1.03)
    ax.set_ylim(-0.7, len(lanes) - 0.3)
    ax.set_xlabel("matching")
    ax.set_title("who became a copy of whom (green: generators, purple: discriminators)", fontsize=9)
    fig.tight_layout()
    return uri(fig)


def samples_chart(run: RunRecord, data, names: Sequence[str]) -> str | None:
    """Each generator's (and the mixture's) samples from the same latent draws at up to eight
    evaluations: rows are agents, columns time."""
    if not run.fixed:
        return None
    plt = _plt()
    matchings = _spread(sorted(run.fixed), 8)
    rows = [n for n in names if any(n in run.fixed[k] for k in matchings)]
    if not rows:
        return None
    images = data.kind.images
    size = 1.9
    fig, axes = plt.subplots(len(rows), len(matchings), figsize=(size * len(matchings) + 0.8, size * len(rows) + 0.4),
                             dpi=80, squeeze=False)
    known = data.kind.modes()
    centers = known.centers.cpu().numpy() if known is not None else None
    flat = [x for k in matchings for n in rows for x in [run.fixed[k].get(n)] if x is not None and not images]
    if flat and data.shape[0] == 2 and not images:
        both = np.concatenate([x.reshape(len(x), -1) for x in flat])
        lo, hi = np.percentile(both, [0.5, 99.5], axis=0)
        pad = 0.1 * (hi - lo).max()
    for i, name in enumerate(rows):
        for j, k in enumerate(matchings):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            x = run.fixed[k].get(name)
            if i == 0:
                ax.set_title(f"matching {k}", fontsize=8)
            if j == 0:
                ax.set_ylabel(name, fontsize=9)
            if x is None:
                ax.axis("off")
                continue
            if images:
                ax.imshow(_tile(x, data.low, data.high), cmap="gray" if x.shape[1] == 1 else None, vmin=0, vmax=1)
            elif data.kind.symbols() is not None:
                counts = np.bincount(x.argmax(1), minlength=x.shape[1]) / len(x)
                ax.bar(np.arange(len(counts)), counts, color="tab:green")
                ax.plot(np.arange(len(counts)), data.kind.symbols(), "k_", ms=10)
            elif data.shape == (1,):
                ax.hist(x.ravel(), bins=40, density=True, color="tab:green", alpha=0.8)
            else:
                if centers is not None:
                    ax.scatter(centers[:, 0], centers[:, 1], marker="x", s=18, c="red", lw=0.8)
                ax.scatter(x[:, 0], x[:, 1], s=1.5, c="tab:blue", alpha=0.6, rasterized=True)
                ax.set_xlim(lo[0] - pad, hi[0] + pad)
                ax.set_ylim(lo[1] - pad, hi[1] + pad)
                ax.set_aspect("equal")
    fig.tight_layout(pad=0.3)
    return uri(fig)


def _tile(x: np.ndarray, low, high) -> np.ndarray:
    """Images ``(N, C, H, W)`` tiled into one ``(rows*H, cols*W[, C])`` array in [0, 1]."""
    stored_as_bytes = x.dtype == np.uint8
    x = x[:16].astype(np.float32)
    if stored_as_bytes:
        x = x / 255.0
    elif low is not None and high is not None:
        x = (x - low) / max(high - low, 1e-8)
    n, c, h, w = x.shape
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    grid = np.ones((rows * h, cols * w, c), dtype=np.float32)
    for i in range(n):
        r, k = divmod(i, cols)
        grid[r * h:(r + 1) * h, k * w:(k + 1) * w] = x[i].transpose(1, 2, 0)
    return np.clip(grid[..., 0] if c == 1 else grid, 0, 1)


def training_chart(run: RunRecord) -> str | None:
    """Losses and the discriminator's mean outputs D(x) and D(G(z)) over time: each discriminator's
    (each generator's for its loss) average over the matches of each logging period."""
    if not run.train:
        return None
    plt = _plt()
    panels = [("d_loss", "discriminator", "discriminator loss"), ("g_loss", "generator", "generator loss"),
              ("d_real", "discriminator", "D(x)"), ("d_fake", "discriminator", "D(G(z))")]
    fig, axes = plt.subplots(1, 4, figsize=(13, 3), dpi=85)
    for ax, (key, role, title) in zip(axes, panels):
        agents = list(dict.fromkeys(a for r in run.train for a in r[role].split(",")))[:16]
        for agent in agents:
            by_matching: dict[int, list[float]] = {}
            for r in run.train:
                if agent in r[role].split(",") and key in r:
                    by_matching.setdefault(r["matching"], []).append(r[key])
            xs = sorted(by_matching)
            ax.plot(xs, [sum(by_matching[x]) / len(by_matching[x]) for x in xs], lw=1.0, alpha=0.85,
                    label=agent if len(agents) <= 10 else None)
        _events(ax, run.events)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("matching")
        if len(agents) <= 10:
            ax.legend(fontsize=6)
    fig.tight_layout()
    return uri(fig)


METRIC_TITLES = {"high_quality": "% high quality", "modes": "modes covered", "reverse_kl": "reverse KL",
                 "quality": "quality signal", "tv": "total variation", "diversity": "diversity", "d_gap": "mean |D(x) - 1/2|",
                 "d_real": "mean D(x) on real data", "symbols": "symbols drawn"}


def metrics_chart(run: RunRecord) -> str | None:
    """The data's metrics of every generator, the mixture and (1-D data) every discriminator
    over time, one panel per metric, with the warnings and divergence events."""
    if not run.evals:
        return None
    skip = {"kind", "matching", "rounds", "quality"}
    # numbers only: a record also carries names, weights, judges and its protocol
    keys = [k for k in dict.fromkeys(k for r in run.evals for k, v in r.items()
                                     if is_number(v)) if k not in skip]
    if not keys:
        return None
    plt = _plt()
    cols = min(len(keys), 3)
    rows = int(np.ceil(len(keys) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3 * rows), dpi=85, squeeze=False)
    agents = list(dict.fromkeys(r["agent"] for r in run.evals))
    if len(agents) > 12:  # the mixture, the output and the best-rated dozen; the others are in the leaderboard
        best = [r["agent"] for r in ((run.leaderboard or {}).get("rows") or []) if r["role"] == "generator"][:10]
        agents = [a for a in agents if a in best or a in ("mixture", "output")] or agents[:12]
    for ax, key in zip(axes.flat, keys):
        for agent in agents:
            pts = [(r["matching"], r[key]) for r in run.evals if r["agent"] == agent and r.get(key) is not None]
            if pts:
                style = {"lw": 2.2, "color": "black"} if agent == "mixture" else {"lw": 1.0}
                ax.plot(*zip(*pts), marker=".", label=agent, **style)
        _events(ax, run.events)
        ax.set_title(METRIC_TITLES.get(key, key), fontsize=9)
        ax.set_xlabel("matching")
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return uri(fig)


def seeds_chart(runs: Sequence[tuple[str, RunRecord]], key: str) -> str | None:
    """One metric of the output (the mixture where there is one) over time, one line per seed."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3), dpi=90)
    drawn = False
    for label, run in runs:
        agent = "mixture" if any(r["agent"] == "mixture" for r in run.evals) else (run.generators or [None])[0]
        pts = [(r["matching"], r[key]) for r in run.evals if r["agent"] == agent and r.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), marker=".", label=label)
            drawn = True
    if not drawn:
        _plt().close(fig)
        return None
    ax.set_title(METRIC_TITLES.get(key, key), fontsize=9)
    ax.set_xlabel("matching")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return uri(fig)
