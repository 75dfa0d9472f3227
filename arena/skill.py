"""Skill rating across runs, on one scale (Olsson et al., 2018, "Skill rating for generative
models"): ``arena league RUN_DIR [RUN_DIR ...]``, beside the Python API whose runs it opens. (Not
the league of one run, :mod:`arena.tournament.league`, whose frozen snapshots are extra opponents;
the command keeps its name for its users.)

Generators from several runs, and optionally from their older checkpoints (snapshots of one run
at several points of its training), play one common panel of discriminators: the final
discriminators of every run. Every generator draws samples from the same seed, every
discriminator judges them against the same held-out real data, and the judgements become one
payoff matrix and one set of ratings, so runs are compared by skill rating on one scale. With
``truth``, the data's own metrics of every generator (which the ratings never see) are reported
beside, with Spearman's rank correlation between rating and each of them. The truth is measured on
a draw of its own (``truth_samples`` samples from another seed), not on the samples the
discriminators judge: on the same samples their sampling noise is shared by rating and truth and
inflates the correlation (on grid25's snapshots at 10 % of training, 1-3 % of the samples are of
high quality, and their reverse KL over 2,500 samples is off by up to 0.6).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from agents import Generator, draw_samples
from arena.api import Run, restore
from arena.core.errors import ArenaError
from arena.core.seeding import derive_seed
from arena.evaluation.measure import truth as measured_truth
from arena.rundir import RunDir
from arena.tournament.crossplay import payoff_period
from arena.tournament.ratings import compute_ratings

__all__ = ["Entrant", "skill_league", "spearman"]


@dataclasses.dataclass
class Entrant:
    """A generator in the league (a frozen copy, named ``run/agent[@matching]``): where it comes
    from and what it gives."""

    generator: Generator
    run: str
    agent: str
    matching: int
    samples: torch.Tensor
    metrics: dict[str, float]

    @property
    def name(self) -> str:
        return self.generator.name


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation (ties take their mean rank); NaN, without scipy's warning, when
    there are fewer than 3 pairs or either side is constant (every generator alike on a measure)."""
    from scipy.stats import spearmanr

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def _checkpoints(run_dir, which: str) -> list[Path]:
    manifests = run_dir.checkpoints()
    if not manifests:
        raise ArenaError(f"{run_dir} has no checkpoint yet")
    return manifests if which == "all" else manifests[-1:]


def skill_league(paths: list[str | Path], n: int = 2500, seed: int = 0, judgement: str = "game",
                 system: str = "glicko2", checkpoints: str = "last", truth: bool = False,
                 progress=None, truth_samples: int = 10000) -> dict[str, Any]:
    """Rate the generators of ``paths`` against the common panel of their final discriminators.

    Args:
        n: samples per generator (and real held-out samples).
        seed: seed of every generator's latent draws.
        judgement: ``game``, ``auc``, ``likelihood``, ``manifold`` or ``density-coverage``
            (:mod:`arena.tournament.judgements`).
        system: the rating system.
        checkpoints: ``last`` (each run's newest checkpoint) or ``all`` (every checkpoint kept: the
            run's generators at several points of training).
        truth: also measure every generator with the data's own metrics.
        truth_samples: samples per generator for the truth, drawn from a seed of their own.

    Returns:
        ``{"rows": [...], "payoff": period, "judgement", "system", "correlations": {...}}``.
    """
    report = progress or (lambda task, done, total: None)
    runs = [RunDir(p) for p in paths]
    data_spec = runs[0].config().data
    for r in runs[1:]:
        if r.config().data != data_spec:
            raise ArenaError(f"{r} trains on other data ({r.config().data}) than {runs[0]} ({data_spec}); "
                             f"a league compares runs on one data set")
    label = {r.path: r.path.name for r in runs}
    if len(set(label.values())) < len(runs):
        label = {r.path: str(r.path) for r in runs}
    entrants: list[Entrant] = []
    judges = []
    games = {}
    data = None
    steps = sum(len(_checkpoints(r, checkpoints)) for r in runs)
    done = 0
    for r in runs:
        run = Run.load(r.path)
        run.check_samples(max(n, truth_samples if truth else 0))
        data = data or run.arena.data
        manifests = _checkpoints(r, checkpoints)
        for manifest in manifests:
            state = r.load_checkpoint(manifest)
            restore(run.tournament, r, state, global_rng=False)
            matching = int(state["matching"])
            for g in run.arena.generators:
                name = f"{label[r.path]}/{g.name}" + ("" if manifest == manifests[-1] else f"@{matching}")
                frozen = g.frozen_copy(name, seed)
                samples = draw_samples(frozen, n, seed)
                metrics = measured_truth(data, draw_samples(frozen, truth_samples, derive_seed(seed, "truth"))) if truth else {}
                entrants.append(Entrant(frozen, label[r.path], g.name, matching, samples, metrics))
                games[name] = run.arena.game
            done += 1
            report("drawing every generator's samples", done, steps)
        for d in run.arena.discriminators:
            name = f"{label[r.path]}/{d.name}"
            judges.append(d.frozen_copy(name, seed))
            games[name] = run.arena.game
    report("judging", 0, 1)
    period = payoff_period([e.generator for e in entrants], judges, {e.name: e.samples for e in entrants}, data.test[:n],
                           lambda g, d: games[d.name], judgement=judgement)
    payoff = period["payoff"]
    report("judging", 1, 1)
    ratings = compute_ratings(system, [period])
    rows = []
    for i, e in enumerate(entrants):
        cells = [1 - p for p in payoff[i] if p is not None]
        r = ratings[e.name]
        rows.append({"generator": e.name, "run": e.run, "agent": e.agent, "matching": e.matching, "rating": r.rating,
                     "uncertainty": r.uncertainty, "score": sum(cells) / len(cells) if cells else None, **e.metrics})
    rows.sort(key=lambda row: -row["rating"])
    correlations = {}
    if truth and len(rows) >= 3:
        for key in dict.fromkeys(k for e in entrants for k in e.metrics):
            pairs = [(row["rating"], row[key]) for row in rows if isinstance(row.get(key), (int, float)) and row[key] == row[key]]
            if len(pairs) >= 3:
                correlations[key] = spearman([p[0] for p in pairs], [p[1] for p in pairs])
    return {"rows": rows, "payoff": period, "judgement": judgement, "system": system, "correlations": correlations,
            "judges": [d.name for d in judges], "samples": n, "seed": seed,
            **({"truth_samples": truth_samples} if truth else {})}
