"""The leaderboard: every agent's rank, rating, matches, last metrics and status.

Rows are built from the tournament's standings; the same rows are shown live during a run
(:mod:`arena.cli.display`), written to ``leaderboard.csv`` and ``leaderboard.json`` in the run
directory (:class:`arena.rundir.RunDir`), and printed by ``arena leaderboard RUN_DIR``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agents import Agent
from arena.engine.divergence import DivergenceGuard
from arena.tournament.ratings import Rating
from arena.tournament.standings import Standings

__all__ = ["leaderboard_rows", "agent_status", "standings_rows", "SHOWN_METRICS"]

SHOWN_METRICS = ("modes", "high_quality", "reverse_kl", "tv", "symbols", "diversity", "d_gap")
"""Metrics a row carries, in this order, where the agent has them."""


def leaderboard_rows(
    agents: Sequence[tuple[str, str, str]],
    ratings: dict[str, Rating],
    matches: dict[str, int],
    scores: dict[str, float],
    metrics: dict[str, dict[str, float]],
    status: dict[str, str],
) -> list[dict[str, Any]]:
    """One row per agent, ranked by rating within its role (generators first).

    Args:
        agents: ``(name, role, rating identity)`` of every agent (the identity changes when
            selection replaces an agent by a copy, so the copy is rated afresh).
        ratings: ratings by identity.
        matches: training matches played, by name.
        scores: the mean cross-play score in the latest review, by name.
        metrics: the latest quality metrics, by name.
        status: ``active``, ``retired`` ... by name.
    """
    rows = []
    for role in ("generator", "discriminator"):
        members = [(name, ident) for name, r, ident in agents if r == role]
        members.sort(key=lambda m: -(ratings[m[1]].rating if m[1] in ratings else float("-inf")))
        for rank, (name, ident) in enumerate(members, 1):
            rating = ratings.get(ident)
            rows.append({
                "rank": rank,
                "agent": name,
                "role": role,
                "rating": None if rating is None else round(rating.rating, 1),
                "uncertainty": None if rating is None or rating.uncertainty is None else round(rating.uncertainty, 1),
                "matches": matches.get(name, 0),
                "score": None if name not in scores else round(scores[name], 4),
                **{k: metrics.get(name, {}).get(k) for k in SHOWN_METRICS if k in metrics.get(name, {})},
                "status": status.get(name, "active"),
            })
    return rows


def agent_status(agent: Agent, guard: DivergenceGuard, standings: Standings,
                 snapshot: Callable[[str], str | None] = lambda name: None) -> str:
    """``active``, ``retired``, or what happened to it: ``diverged x2``, ``copy of g1 @50``,
    ``snapshot of g1 @40`` (a league's frozen copy)."""
    if agent.frozen:
        return snapshot(agent.name) or "snapshot"
    if guard.is_retired(agent):
        return "retired"
    parts = []
    failures = guard.failures_of(agent)
    if failures:
        parts.append(f"diverged x{failures}")
    copies = standings.replacements(agent)
    if copies:
        parts.append(f"copy of {copies[-1]['parent']} @{copies[-1]['matching']}")
    return "; ".join(parts) or "active"


def standings_rows(agents: Sequence[Agent], standings: Standings, guard: DivergenceGuard,
                   snapshot: Callable[[str], str | None] = lambda name: None) -> list[dict[str, Any]]:
    """The leaderboard of ``agents`` (generators and discriminators) from the standings."""
    named = [(a.name, a.role, standings.identity(a)) for a in agents]
    status = {a.name: agent_status(a, guard, standings, snapshot) for a in agents}
    families = {a.name: a.family.name for a in agents if getattr(a, "family", None) is not None}
    matches = {**standings.matches, **{m: standings.matches.get(f, 0) for m, f in families.items()}}  # a member plays in its family
    return leaderboard_rows(named, standings.ratings, matches, standings.scores, standings.metrics, status)
