"""What a tournament knows about its agents between matchings: cross-play results, ratings,
the leaderboard, lineage from selection and the mixture of the best generators.

:class:`Standings` is updated at every evaluation by :meth:`Standings.update` and saved in
checkpoints; ratings are always recomputed from the recorded results (a pure function).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from agents import Agent
from arena.engine.arena import Arena
from arena.rundir.checkpoint import atomic_write
from arena.tournament.crossplay import payoff_matrix
from arena.evaluation.measure import draw_samples
from arena.tournament.leaderboard import leaderboard_rows, write_leaderboard
from arena.evaluation.metrics import categorical_metrics, mode_metrics
from arena.tournament.mixture import Mixture, mixture_weights
from arena.tournament.ratings import Rating, compute_ratings
from arena.core.seeding import derive_seed
from arena.tournament.selection import select

__all__ = ["Standings", "RESULTS_FILE", "LINEAGE_FILE", "MIXTURE_FILE", "mixture_from_state"]

RESULTS_FILE = "results.json"
LINEAGE_FILE = "lineage.json"
MIXTURE_FILE = "mixture.json"


def quality_metrics(arena: Arena, samples: torch.Tensor) -> dict[str, float]:
    """The metrics the data defines for any set of samples (toy mixtures, categorical data)."""
    if arena.data.modes is not None:
        return mode_metrics(samples, arena.data.modes, arena.data.mode_std)
    if arena.data.kind == "categorical":
        out = categorical_metrics(samples, arena.data.info["probs"])
        return {**out, "quality": 1.0 - out["tv"]}
    return {}


def mixture_from_state(arena: Arena, state: dict[str, Any]) -> Mixture:
    """The mixture saved in a checkpoint, over the arena's (loaded) generators."""
    from arena.core.errors import ArenaError

    saved = (state.get("standings") or {}).get("mixture")
    if not saved:
        raise ArenaError("this run has no mixture yet: it is chosen at the first evaluation")
    return Mixture([arena.generator(name) for name in saved["components"]], saved["weights"])


class Standings:
    """Results, ratings, lineage, last metrics and the mixture of one tournament."""

    def __init__(self, arena: Arena, run_dir: Path | None) -> None:
        self.arena = arena
        self.config = arena.config
        self.run_dir = run_dir
        self.results: list[dict[str, Any]] = []
        self.lineage: list[dict[str, Any]] = []
        self.generation: dict[str, int] = {}
        self.matches: dict[str, int] = {}
        self.metrics: dict[str, dict[str, float]] = {}
        self.scores: dict[str, float] = {}
        self.mixture: dict[str, Any] | None = None
        self.ratings: dict[str, Rating] = {}

    # ------------------------------------------------------------------ identities and ranking
    def identity(self, agent: Agent) -> str:
        """The name under which ``agent`` is rated: its name, plus ``@n`` after its n-th replacement."""
        n = self.generation.get(agent.name, 0)
        return agent.name if n == 0 else f"{agent.name}@{n}"

    def rating(self, agent: Agent) -> float:
        r = self.ratings.get(self.identity(agent))
        return r.rating if r is not None else float("-inf")

    def ranking(self) -> tuple[list[int], list[int]]:
        """Generator and discriminator indices, best-rated first (config order before any rating)."""

        def order(pool: list) -> list[int]:
            return sorted(range(len(pool)), key=lambda i: (-self.rating(pool[i]) if self.ratings else 0, i))

        return order(self.arena.generators), order(self.arena.discriminators)

    # ------------------------------------------------------------------ one evaluation period
    def update(
        self, matching: int, rounds: int, samples: dict[str, torch.Tensor], metrics: dict[str, dict[str, float]],
        active, last: bool,
    ) -> dict[str, Any]:
        """Cross-play, ratings, selection (when due), the mixture, the leaderboard. Returns what to log."""
        arena, cfg = self.arena, self.config
        self.metrics.update(metrics)
        real = arena.data.test[: cfg.eval.samples]
        stack = True if arena.config.compute.matchings == "batched" else None
        payoff = payoff_matrix(arena.generators, arena.discriminators, samples, real, arena.game_for, active, stack)
        period = {
            "matching": matching,
            "rounds": rounds,
            "generators": [self.identity(g) for g in arena.generators],
            "discriminators": [self.identity(d) for d in arena.discriminators],
            "payoff": payoff,
        }
        self.results.append(period)
        self.ratings = compute_ratings(cfg.ratings.system, self.results)
        self._scores(payoff)
        out: dict[str, Any] = {"payoff": period, "lineage": []}
        if cfg.selection.every and matching % cfg.selection.every == 0 and not last:
            rng = torch.Generator().manual_seed(derive_seed(cfg.seed, "selection", str(matching)))
            pools = {"generator": arena.generators, "discriminator": arena.discriminators}
            records = select(pools, self.rating, cfg.selection, rng, active)
            for record in records:
                record["matching"] = matching
                if record["parent"] is not None:
                    self.generation[record["replaced"]] = self.generation.get(record["replaced"], 0) + 1
                    record["identity"] = self.identity(arena.agent(record["replaced"]))
            self.lineage.extend(records)
            out["lineage"] = records
        out["mixture"] = self._mixture(matching, samples, active)
        return out

    def _scores(self, payoff: list[list[float | None]]) -> None:
        arena = self.arena
        for i, g in enumerate(arena.generators):
            cells = [1 - p for p in payoff[i] if p is not None]
            if cells:
                self.scores[g.name] = sum(cells) / len(cells)
        for j, d in enumerate(arena.discriminators):
            cells = [row[j] for row in payoff if row[j] is not None]
            if cells:
                self.scores[d.name] = sum(cells) / len(cells)

    def _mixture(self, matching: int, samples: dict[str, torch.Tensor], active) -> dict[str, Any]:
        arena, cfg = self.arena, self.config
        ranked = sorted((g for g in arena.generators if active(g)), key=self.rating, reverse=True)
        top = ranked[: cfg.mixture.top] if cfg.mixture.top else ranked
        ratings = {g.name: self.rating(g) for g in top}
        quality = {g.name: self.metrics.get(g.name, {}).get("quality", 0.0) for g in top}
        weights = mixture_weights(cfg.mixture.weights, top, ratings, samples, arena.data, quality)
        kept = [(g, w) for g, w in zip(top, weights) if w >= 1e-4]  # a fitted weight may fall to ~0
        mixture = Mixture([g for g, _ in kept], [w for _, w in kept])
        drawn = draw_samples(mixture, cfg.eval.samples, derive_seed(cfg.seed, "eval", "mixture", str(matching)))
        self.mixture = {**mixture.as_dict(), "matching": matching, "metrics": quality_metrics(arena, drawn)}
        return self.mixture

    # ------------------------------------------------------------------ outputs and state
    def status(self, agent: Agent, guard) -> str:
        if guard.is_retired(agent):
            return "retired"
        parts = []
        failures = guard.failures.get(agent.name, 0)
        if failures:
            parts.append(f"diverged x{failures}")
        copies = [r for r in self.lineage if r["replaced"] == agent.name and r["parent"]]
        if copies:
            parts.append(f"copy of {copies[-1]['parent']} @{copies[-1]['matching']}")
        return "; ".join(parts) or "active"

    def rows(self, guard) -> list[dict[str, Any]]:
        arena = self.arena
        agents = [(a.name, a.role, self.identity(a)) for a in [*arena.generators, *arena.discriminators]]
        status = {a.name: self.status(a, guard) for a in [*arena.generators, *arena.discriminators]}
        return leaderboard_rows(agents, self.ratings, self.matches, self.scores, self.metrics, status)

    def write_files(self, guard, matching: int, rounds: int) -> list[dict[str, Any]]:
        rows = self.rows(guard)
        if self.run_dir is not None:
            header = {"matching": matching, "rounds": rounds, "system": self.config.ratings.system, "mixture": self.mixture}
            write_leaderboard(self.run_dir, rows, header)
            for name, data in ((RESULTS_FILE, self.results), (LINEAGE_FILE, self.lineage), (MIXTURE_FILE, self.mixture)):
                atomic_write(self.run_dir / name, json.dumps(data, indent=1).encode())
        return rows

    def count_match(self, players: list[Agent]) -> None:
        for agent in players:
            self.matches[agent.name] = self.matches.get(agent.name, 0) + 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "results": self.results, "lineage": self.lineage, "generation": self.generation, "matches": self.matches,
            "metrics": self.metrics, "scores": self.scores, "mixture": self.mixture,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("results", "lineage", "generation", "matches", "metrics", "scores", "mixture"):
            if key in state:
                setattr(self, key, state[key])
        if self.results:
            self.ratings = compute_ratings(self.config.ratings.system, self.results)
