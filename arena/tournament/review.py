"""The review: what the loop does every ``review.every`` matchings, as a pipeline of plain steps.

1. :func:`sample_and_measure`: every generator's samples (and the league's snapshots'), their
   metrics, and on 1-D data each discriminator's check.
2. :func:`cross_play`: every generator against every discriminator on held-out data; the payoff
   matrix is recorded and every rating recomputed.
3. :func:`select`: the worst agents replaced by mutated copies of the best (when due).
4. :func:`mix`: the mixture of the best-rated generators, measured on fresh samples.
5. :func:`judge_output`: the discriminator panel over the mixture, calibrated, and the output it
   gives measured (where the panel is on).
6. :func:`snapshot`: frozen copies of the best into the league (when due).

:func:`review` runs them in that order and returns a :class:`~arena.tournament.callbacks.Review`
whose ``log`` holds every record the review makes, in the order the loop logs them. The steps
change the tournament's standings and league (its state); they write nothing and show nothing.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import torch

from agents import draw_samples
from arena.core import faults
from arena.core.seeding import derive_seed
from arena.evaluation.measure import discriminator_signal, sample_metrics, signal
from arena.evaluation.protocol import protocol
from arena.output.mixture import Candidates, Mixture, mixture_weights
from arena.output.record import OutputRecord, PanelRecord
from arena.output.sampler import PanelExhausted, calibrated_panel
from arena.tournament.callbacks import Review
from arena.tournament.crossplay import discriminator_features, payoff_period
from arena.tournament.selection import select as select_agents

if TYPE_CHECKING:  # pragma: no cover
    from arena.tournament.loop import Tournament

__all__ = ["review", "sample_and_measure", "cross_play", "select", "mix", "judge_output", "snapshot", "warning_records"]

_STAMP = ("kind", "matching", "rounds", "agent", "protocol")


def warning_records(t: Tournament, messages: list[str]) -> list[dict[str, Any]]:
    """The ``warning`` records of a diagnostics' ``messages``."""
    return [{"kind": "warning", "matching": t.completed, "rounds": t.rounds, "message": m} for m in messages]


def review(t: Tournament) -> Review:
    """Review the tournament now: the steps of this module, in order."""
    cfg = t.config
    stamp = {"matching": t.completed, "rounds": t.rounds}
    measured = protocol(cfg.review.samples, "derived")
    samples, records = sample_and_measure(t)
    log: list[dict[str, Any]] = []
    for record in records:
        log.append(record)
        log += warning_records(t, t.diagnostics.on_eval(record["agent"], record))
    t.standings.metrics.update({r["agent"]: {k: v for k, v in r.items() if k not in _STAMP} for r in records})
    with t.timer.part("cross-play"):
        period = cross_play(t, samples)
    with t.timer.part("selection"):
        lineage = select(t) if cfg.selection.every and t.completed % cfg.selection.every == 0 and not t.finished else []
    with t.timer.part("mixture"):
        mixture, output = mix(t, samples)
    if cfg.panel.enabled:
        with t.timer.part("panel"):
            output.panel = judge_output(t, mixture)
    t.standings.output = output
    snapshots = snapshot(t) if t.league.due(t.completed) and not t.finished else []
    log.append({"kind": "payoff", **stamp, **{k: period[k] for k in ("generators", "discriminators", "payoff")}})
    log += [{"kind": "selection", **stamp, **record} for record in lineage]
    log += [{"kind": "snapshot", **stamp, **record} for record in snapshots]
    if len(t.arena.judged) > 1:
        log.append({"kind": "eval", **stamp, "agent": "mixture", **output.metrics,
                    "components": output.components, "weights": output.weights,
                    "protocol": _judged(measured, output.classifier)})
    if output.panel is not None and output.panel.failed is None:
        panel = output.panel
        log.append({"kind": "eval", **stamp, "agent": "output", **(panel.metrics or {}), "acceptance": panel.acceptance,
                    "judges": panel.judges, "protocol": _judged(measured, panel.classifier)})
    return Review(t.completed, t.rounds, samples, records, period, lineage, output, t.leaderboard(), snapshots, log)


def _measured(data: Any, samples: torch.Tensor) -> tuple[dict[str, Any], str | None]:
    """The metrics of ``samples``, and the classifier that judged them where one did."""
    metrics = sample_metrics(data, samples)
    return metrics, metrics.pop("classifier", None)


def _judged(measured: dict[str, Any], classifier: str | None) -> dict[str, Any]:
    """A review's protocol, naming the ``classifier`` that judged a record's metrics where one did."""
    return measured if classifier is None else {**measured, "classifier": classifier}


def sample_and_measure(t: Tournament) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """Every generator's review samples (the league's snapshots' too: they are judged in
    cross-play) and the ``eval`` records of the generators' and discriminators' metrics."""
    arena, cfg = t.arena, t.config
    stamp = {"kind": "eval", "matching": t.completed, "rounds": t.rounds}
    samples: dict[str, torch.Tensor] = {}
    records = []
    for g in arena.judged:
        samples[g.name] = draw_samples(g.output(), cfg.review.samples, derive_seed(cfg.seed, "eval", g.name, str(t.completed)))
        metrics = signal(arena.data, samples[g.name])
        if metrics:
            stamped = protocol(cfg.review.samples, "derived", classifier=metrics.pop("classifier", None))
            records.append({**stamp, "agent": g.name, **metrics, "protocol": stamped})
        faults.hit("review")
    for snap in t.league.generators:
        samples[snap.name] = draw_samples(snap, cfg.review.samples, derive_seed(cfg.seed, "eval", snap.name, str(t.completed)))
    for name, metrics in discriminator_signal(arena.data, arena.discriminators):
        records.append({**stamp, "agent": name, **metrics, "protocol": protocol(arena.data.test.shape[0], "none")})
    return samples, records


def cross_play(t: Tournament, samples: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Every generator against every discriminator on held-out data (the league's snapshots
    included); the period is recorded and every rating recomputed."""
    arena, cfg, standings = t.arena, t.config, t.standings
    gens = [*arena.judged, *t.league.generators]
    discs = [*arena.discriminators, *t.league.discriminators]
    period = payoff_period(gens, discs, samples, arena.data.test[: cfg.review.samples], arena.game_for, t.completed, t.rounds,
                           standings.identity, t.active, True if cfg.compute.execution == "batched" else None,
                           cfg.ratings.judgement)
    with t.timer.part("ratings"):
        standings.add_results(period, cfg.ratings.system)
    standings.record_scores(gens, discs, period["payoff"])
    return period


def select(t: Tournament) -> list[dict[str, Any]]:
    """Replace the worst agents of each role by mutated copies of the best."""
    arena, cfg = t.arena, t.config
    rng = torch.Generator().manual_seed(derive_seed(cfg.seed, "selection", str(t.completed)))
    pools = {"generator": arena.generators, "discriminator": arena.discriminators}
    records = select_agents(pools, t.standings.rating, cfg.selection, rng, t.active,
                            lambda g: t.standings.metrics.get(g.name, {}).get("diversity"))
    for record in records:
        record["matching"] = t.completed
    t.standings.record_selection(records, arena.agents)
    return records


def mix(t: Tournament, samples: dict[str, torch.Tensor]) -> tuple[Mixture, OutputRecord]:
    """The mixture of the best-rated generators, and the output record it starts: components,
    weights, and its metrics on fresh samples."""
    arena, cfg, standings = t.arena, t.config, t.standings
    ranked = sorted((g for g in arena.judged if t.active(g)), key=standings.rating, reverse=True)
    top = ranked[: cfg.mixture.top] if cfg.mixture.top else ranked
    latest = standings.results[-1]["payoff"] if standings.results else []
    candidates = Candidates(
        generators=top,
        ratings={g.name: standings.rating(g) for g in top},
        samples=samples,
        quality={g.name: standings.metrics.get(g.name, {}).get("quality", 0.0) for g in top},
        kind=arena.data.kind,
        payoff={g.name: row for g, row in zip(arena.judged, latest)},
        heldout=arena.data.splits.get("valid", arena.data.test),
        features=discriminator_features([d for d in arena.discriminators if t.active(d)]) if arena.data.kind.images else None,
    )
    weights = mixture_weights(cfg.mixture.weights, candidates)
    kept = [(g, w) for g, w in zip(top, weights) if w >= 1e-4]  # a fitted weight may fall to ~0
    mixture = Mixture([g.output() for g, _ in kept], [w for _, w in kept])
    drawn = draw_samples(mixture, cfg.review.samples, derive_seed(cfg.seed, "eval", "mixture", str(t.completed)))
    metrics, classifier = _measured(arena.data, drawn)
    return mixture, OutputRecord([g.name for g in mixture.components], list(mixture.weights), t.completed, metrics,
                                 classifier)


def judge_output(t: Tournament, mixture: Mixture) -> PanelRecord:
    """Calibrate the discriminator panel over the mixture and measure the output it gives."""
    arena, cfg = t.arena, t.config
    ranked = sorted((d for d in arena.discriminators if t.active(d)), key=t.standings.rating, reverse=True)
    judges = ranked[: cfg.panel.judges] if cfg.panel.judges else ranked
    sampler = calibrated_panel(mixture, judges, cfg.panel, arena.data, derive_seed(cfg.seed, "panel", str(t.completed)))
    try:
        drawn = draw_samples(sampler, cfg.review.samples, derive_seed(cfg.seed, "eval", "output", str(t.completed)))
    except PanelExhausted as e:  # a poor generator early in training must not end the run
        warnings.warn(f"matching {t.completed}: {e}. This review measures the mixture unfiltered; "
                      f"`arena sample --no-panel` draws it", stacklevel=2)
        return PanelRecord(sampler.panel.state(), sampler.acceptance_rate, failed=str(e))
    metrics, classifier = _measured(arena.data, drawn)
    return PanelRecord(sampler.panel.state(), sampler.acceptance_rate, metrics, classifier)


def snapshot(t: Tournament) -> list[dict[str, Any]]:
    """Freeze copies of the best-rated generator and discriminator into the league."""
    arena, rating = t.arena, t.standings.rating
    best = [max((a for a in pool if t.active(a)), key=rating) for pool in (arena.generators, arena.discriminators)
            if any(t.active(a) for a in pool)]
    return t.league.take(best, t.completed)
