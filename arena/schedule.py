"""Schedules: which generator meets which discriminator in each matching.

A matching is a list of ``(generator_index, discriminator_index)`` pairs in which every
agent appears at most once. A schedule is a pure function of the matching's index, so a
resumed run plays exactly the matchings an uninterrupted one would.
"""

from __future__ import annotations

__all__ = ["Matching", "RoundRobin", "make_schedule"]

Matching = list[tuple[int, int]]


class RoundRobin:
    """Every generator meets every discriminator equally often.

    With ``n`` generators and ``m`` discriminators, matching ``k`` pairs generator ``i`` with
    discriminator ``(i + k) mod m`` when ``n <= m``, and discriminator ``j`` with generator
    ``(j + k) mod n`` otherwise; over ``max(n, m)`` matchings every pair meets once.
    """

    def __init__(self, generators: int, discriminators: int) -> None:
        self.n, self.m = generators, discriminators

    def matching(self, k: int) -> Matching:
        if self.n <= self.m:
            return [(i, (i + k) % self.m) for i in range(self.n)]
        return [((j + k) % self.n, j) for j in range(self.m)]


def make_schedule(kind: str, generators: int, discriminators: int) -> RoundRobin:
    if kind == "round-robin":
        return RoundRobin(generators, discriminators)
    raise ValueError(f"unknown schedule {kind!r}")
