"""What a tournament knows about its agents between matchings: plain state.

:class:`Standings` holds the recorded cross-play results, the ratings computed from them, the
rating identities (a copy made by selection is rated afresh under ``name@n``), the lineage, the
matches played, the latest metrics and cross-play scores, and the mixture. The loop
(:mod:`arena.tournament.loop`) updates it through explicit steps; it writes no files, plays no
matches and reads nothing of the divergence guard. It is saved in checkpoints; the ratings
are always recomputed from the results (a pure function).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agents import Agent
from arena.output.record import OutputRecord
from arena.tournament.ratings import Rating, compute_ratings

__all__ = ["Standings"]

_SAVED = ("results", "lineage", "generation", "matches", "metrics", "scores")


class Standings:
    """Results, ratings, identities, lineage, matches, last metrics and the mixture of one tournament."""

    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []
        """Every cross-play period: ``matching``, ``rounds``, identities and the payoff matrix."""
        self.ratings: dict[str, Rating] = {}
        """Ratings by identity, recomputed from :attr:`results`."""
        self.lineage: list[dict[str, Any]] = []
        """Every selection record."""
        self.generation: dict[str, int] = {}
        """How often each agent (by name) has been replaced by a copy."""
        self.matches: dict[str, int] = {}
        """Training matches played, by name."""
        self.metrics: dict[str, dict[str, float]] = {}
        """The latest review metrics, by name."""
        self.scores: dict[str, float] = {}
        """The mean cross-play score in the latest review, by name."""
        self.output: OutputRecord | None = None
        """The output the latest review chose: the mixture's components and weights, the matching,
        its figures, its panel."""

    # ------------------------------------------------------------------ reading
    def identity(self, agent: Agent) -> str:
        """The name under which ``agent`` is rated: its name, plus ``@n`` after its n-th replacement."""
        n = self.generation.get(agent.name, 0)
        return agent.name if n == 0 else f"{agent.name}@{n}"

    def rating(self, agent: Agent) -> float:
        """``agent``'s current rating (minus infinity before it has one)."""
        r = self.ratings.get(self.identity(agent))
        return r.rating if r is not None else float("-inf")

    def ranking(self, generators: Sequence[Agent], discriminators: Sequence[Agent]) -> tuple[list[int], list[int]]:
        """Generator and discriminator indices, best-rated first (config order before any rating)."""

        def order(pool: Sequence[Agent]) -> list[int]:
            return sorted(range(len(pool)), key=lambda i: (-self.rating(pool[i]) if self.ratings else 0, i))

        return order(generators), order(discriminators)

    def replacements(self, agent: Agent) -> list[dict[str, Any]]:
        """The selection records in which ``agent`` became a copy of another."""
        return [r for r in self.lineage if r["replaced"] == agent.name and r["parent"]]

    # ------------------------------------------------------------------ steps
    def count_match(self, players: Sequence[Agent]) -> None:
        """A training match was played by ``players``."""
        for agent in players:
            self.matches[agent.name] = self.matches.get(agent.name, 0) + 1

    def add_results(self, period: dict[str, Any], system: str) -> None:
        """Record one cross-play period and recompute every rating under ``system``."""
        self.results.append(period)
        self.ratings = compute_ratings(system, self.results)

    def record_scores(self, generators: Sequence[Agent], discriminators: Sequence[Agent],
                      payoff: list[list[float | None]]) -> None:
        """Each agent's mean cross-play score in ``payoff`` (generators score 1 minus the cell)."""
        for i, g in enumerate(generators):
            cells = [1 - p for p in payoff[i] if p is not None]
            if cells:
                self.scores[g.name] = sum(cells) / len(cells)
        for j, d in enumerate(discriminators):
            cells = [row[j] for row in payoff if row[j] is not None]
            if cells:
                self.scores[d.name] = sum(cells) / len(cells)

    def record_selection(self, records: list[dict[str, Any]], agents: dict[str, Agent]) -> None:
        """Record what a selection did; a replaced agent gets a new rating identity."""
        for record in records:
            if record["parent"] is not None:
                name = record["replaced"]
                self.generation[name] = self.generation.get(name, 0) + 1
                record["identity"] = self.identity(agents[name])
        self.lineage.extend(records)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {**{key: getattr(self, key) for key in _SAVED}, "mixture": self.output.as_dict() if self.output else None}

    def load_state_dict(self, state: dict[str, Any], system: str) -> None:
        for key in _SAVED:
            if key in state:
                setattr(self, key, state[key])
        if state.get("mixture"):  # the checkpoint's key since before the output had a record of its own
            self.output = OutputRecord.from_dict(state["mixture"], "the checkpoint's output record")
        self.ratings = compute_ratings(system, self.results) if self.results else {}
