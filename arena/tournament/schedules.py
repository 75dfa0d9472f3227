"""Schedules: which generator meets which discriminator in each matching.

A matching is a list of ``(generator_index, discriminator_index)`` pairs in which every
agent appears at most once. A schedule is a pure function of the matching's index (and, for
``all-vs-best``, of the current ranking, which checkpoints keep), so a resumed run plays
exactly the matchings an uninterrupted one would. Schedules are registered in
:data:`schedules` (``schedule.type`` in a config).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence

import torch

from arena.core.errors import ConfigError
from arena.core.registry import Registry
from arena.core.seeding import derive_seed

__all__ = ["Pairs", "Schedule", "RoundRobin", "RandomSchedule", "GridSchedule", "AllVsBest", "schedules", "make_schedule"]

Pairs = list[tuple[int, int]]
"""One matching of a schedule: ``(generator index, discriminator index)`` pairs."""


class Schedule(abc.ABC):
    """The matchings of a tournament between ``generators`` generators and ``discriminators`` discriminators.

    Args:
        generators, discriminators: how many agents of each role.
        seed: the run's master seed (schedules that draw derive their own streams from it).
    """

    uses_ranking = False
    """Whether :meth:`matching` reads the ranking (the caller computes it only then)."""

    def __init__(self, generators: int, discriminators: int, seed: int = 0) -> None:
        self.n, self.m = generators, discriminators
        self.seed = seed

    @abc.abstractmethod
    def matching(self, k: int, ranking: tuple[Sequence[int], Sequence[int]] | None = None) -> Pairs:
        """The ``k``-th matching. ``ranking`` holds generator and discriminator indices, best
        first; only schedules that follow the ratings use it."""


class RoundRobin(Schedule):
    """Every generator meets every discriminator equally often.

    Matching ``k`` pairs generator ``i`` with discriminator ``(i + k) mod m`` when ``n <= m``,
    and discriminator ``j`` with generator ``(j + k) mod n`` otherwise; over ``max(n, m)``
    matchings every pair meets once.
    """

    def matching(self, k: int, ranking=None) -> Pairs:
        if self.n <= self.m:
            return [(i, (i + k) % self.m) for i in range(self.n)]
        return [((j + k) % self.n, j) for j in range(self.m)]


class RandomSchedule(Schedule):
    """Random pairings: a fresh random permutation of both roles for every matching, from a
    stream derived from the run's seed and the matching's index."""

    def matching(self, k: int, ranking=None) -> Pairs:
        rng = torch.Generator().manual_seed(derive_seed(self.seed, "schedule", str(k)))
        gens = torch.randperm(self.n, generator=rng).tolist()
        discs = torch.randperm(self.m, generator=rng).tolist()
        return list(zip(gens, discs, strict=False))


def grid_shape(cells: int) -> tuple[int, int]:
    """The most nearly square ``rows x cols`` grid with ``cells`` cells."""
    rows = max(r for r in range(1, math.isqrt(cells) + 1) if cells % r == 0)
    return rows, cells // rows


class GridSchedule(Schedule):
    """Lipizzaner's toroidal grid: cell ``c`` holds generator ``c`` and discriminator ``c``;
    each cell's generator trains against the discriminators of its own cell and of its 4
    neighbours (north, south, west, east, wrapping around), and so does each discriminator.

    Matching ``k`` uses neighbour offset ``k mod 5`` for every cell at once, so each matching
    is a permutation: every agent plays exactly once. On small grids where two offsets land
    on the same cell (a 2 x 2 torus), the duplicate offset is dropped.
    """

    def __init__(self, generators: int, discriminators: int, seed: int = 0) -> None:
        if generators != discriminators:
            raise ConfigError(
                f"the grid schedule needs as many generators as discriminators (one of each per cell), "
                f"got {generators} and {discriminators}",
                ("schedule", "type"),
            )
        super().__init__(generators, discriminators, seed)
        self.rows, self.cols = grid_shape(generators)
        offsets = []
        for dr, dc in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)):
            cells = tuple(self.neighbour(c, dr, dc) for c in range(generators))
            if cells not in [o[1] for o in offsets]:
                offsets.append(((dr, dc), cells))
        self.offsets = [cells for _, cells in offsets]

    def neighbour(self, cell: int, dr: int, dc: int) -> int:
        r, c = divmod(cell, self.cols)
        return ((r + dr) % self.rows) * self.cols + (c + dc) % self.cols

    def matching(self, k: int, ranking=None) -> Pairs:
        cells = self.offsets[k % len(self.offsets)]
        return [(g, cells[g]) for g in range(self.n)]


class AllVsBest(Schedule):
    """Each agent plays the current best of the other role.

    Matching ``k`` holds up to two matches: the best discriminator against the next
    challenging generator, and the best generator against the next challenging
    discriminator (challengers taken in turn, the best excluded). Over ``n - 1`` matchings
    every generator meets the best discriminator. Before any ratings exist the first agent
    of each role counts as best.
    """

    uses_ranking = True

    def matching(self, k: int, ranking=None) -> Pairs:
        gens, discs = ranking if ranking is not None else (range(self.n), range(self.m))
        best_g, best_d = gens[0], discs[0]
        out: Pairs = []
        if self.n > 1:
            out.append((list(gens[1:])[k % (self.n - 1)], best_d))
        if self.m > 1:
            out.append((best_g, list(discs[1:])[k % (self.m - 1)]))
        return out or [(best_g, best_d)]


schedules: Registry[Schedule] = Registry("schedule")
"""Every schedule: ``schedule.type`` in a config names one."""
schedules.register("round-robin", RoundRobin, "every generator meets every discriminator equally often")
schedules.register("random", RandomSchedule, "seeded random pairings")
schedules.register("grid", GridSchedule, "Lipizzaner's toroidal grid: each cell against its 4 neighbours and itself")
schedules.register("all-vs-best", AllVsBest, "each agent plays the current best of the other role")


def make_schedule(kind: str, generators: int, discriminators: int, seed: int = 0) -> Schedule:
    """The schedule registered as ``kind`` for this many agents of each role."""
    return schedules.factory(kind, ("schedule", "type"))(generators, discriminators, seed=seed)
