"""A league: frozen snapshots of the tournament's best agents kept as opponents (a hall of fame,
fictitious play; Ge et al. 2018, "Fictitious GAN"; the leagues of multi-agent RL).

Every ``league.every`` matchings (at a review) the best-rated generator and the best-rated
discriminator are copied, frozen (:meth:`agents.Agent.frozen_copy`), named ``<agent>#<matching>``
and added to the league; the last ``league.keep`` of each role are kept. Every
``league.play_every`` matchings, each agent that learns plays one extra match against a snapshot
of the other role (each snapshot plays at most once per matching, so matches stay independent):
the learner updates, the snapshot does not. Snapshots take part in cross-play, so they are rated
like everyone else and an agent cannot win by forgetting how to beat an older opponent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agents import Agent
from arena.core.seeding import derive_seed

__all__ = ["League"]


class League:
    """The snapshots of one tournament.

    Args:
        every: matchings between snapshots (0: no league).
        keep: snapshots kept per role (the oldest go first).
        play_every: matchings between the league's extra matches.
        seed: the run's master seed (each snapshot's random stream derives from it and its name).
    """

    def __init__(self, every: int = 0, keep: int = 4, play_every: int = 1, seed: int = 0) -> None:
        self.every, self.keep, self.play_every, self.seed = every, keep, play_every, seed
        self.generators: list[Agent] = []
        self.discriminators: list[Agent] = []
        self.records: list[dict[str, Any]] = []
        """``{"name", "of", "role", "matching"}`` of every snapshot kept."""

    @property
    def on(self) -> bool:
        return self.every > 0

    @property
    def snapshots(self) -> list[Agent]:
        return [*self.generators, *self.discriminators]

    def due(self, completed: int) -> bool:
        return self.on and completed % self.every == 0

    def take(self, best: Sequence[Agent], completed: int) -> list[dict[str, Any]]:
        """Freeze a copy of each agent of ``best`` (the best-rated of each role) after ``completed`` matchings."""
        taken = []
        for agent in best:
            name = f"{agent.name}#{completed}"
            snap = agent.frozen_copy(name, derive_seed(self.seed, "league", name))
            pool = self.generators if agent.role == "generator" else self.discriminators
            pool.append(snap)
            record = {"name": name, "of": agent.name, "role": agent.role, "matching": completed}
            self.records.append(record)
            taken.append(record)
            while len(pool) > self.keep:
                gone = pool.pop(0)
                self.records = [r for r in self.records if r["name"] != gone.name]
        return taken

    def matches(self, k: int, generators: Sequence[Agent], discriminators: Sequence[Agent],
                active: Callable[[Agent], bool]) -> list[tuple[list[Agent], list[Agent]]]:
        """The extra matches of matching ``k``: learners against snapshots, each snapshot once."""
        if not self.on or k % self.play_every or not self.snapshots:
            return []
        out = []
        for learners, snaps, learner_is_generator in ((generators, self.discriminators, True),
                                                      (discriminators, self.generators, False)):
            ready = [a for a in learners if active(a)]
            if not snaps:
                continue
            for i, agent in enumerate(ready[: len(snaps)]):
                snap = snaps[(k + i) % len(snaps)]
                out.append(([agent], [snap]) if learner_is_generator else ([snap], [agent]))
        return out

    def status(self, name: str) -> str | None:
        record = next((r for r in self.records if r["name"] == name), None)
        return None if record is None else f"snapshot of {record['of']} @{record['matching']}"

    def state_dict(self) -> dict[str, Any]:
        return {"records": list(self.records),
                "nets": {a.name: a.net.state_dict() for a in self.snapshots},
                "rngs": {a.name: a.rng.get_state() for a in self.snapshots},
                "extras": {a.name: {k: v for k, v in a.extras.items()} for a in self.snapshots}}

    def load_state_dict(self, state: dict[str, Any], agent: Callable[[str], Agent]) -> None:
        """Rebuild the snapshots: a frozen copy of the agent each was taken of, with its saved weights."""
        self.generators, self.discriminators, self.records = [], [], []
        for record in state.get("records", []):
            snap = agent(record["of"]).frozen_copy(record["name"], derive_seed(self.seed, "league", record["name"]))
            snap.net.load_state_dict(state["nets"][record["name"]])
            if record["name"] in state.get("rngs", {}):
                snap.rng.set_state(state["rngs"][record["name"]])
            for key, value in state.get("extras", {}).get(record["name"], {}).items():
                snap.extras[key] = value.clone()
            (self.generators if record["role"] == "generator" else self.discriminators).append(snap)
            self.records.append(dict(record))
