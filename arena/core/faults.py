"""Fault injection for crash-safety tests: kill the process at a named point.

A :class:`Faults` object is handed to the run explicitly; the default, :data:`NO_FAULTS`, never
fires. ``arena`` commands read ``ARENA_FAULT=POINT:N`` from the environment when a run starts
(:meth:`Faults.from_env`), so a test can kill a subprocess the N-th time execution reaches
``POINT``: ``round`` (between a discriminator update and the generator update of a round),
``checkpoint-write`` (checkpoint weights written to a temporary file, not yet renamed),
``checkpoint-manifest`` (weights renamed, manifest not yet written) or ``eval`` (in the middle
of an evaluation, after a generator's samples are drawn).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping

from arena.core.errors import ConfigError

__all__ = ["Faults", "NO_FAULTS", "POINTS", "ENV"]

POINTS = ("round", "checkpoint-write", "checkpoint-manifest", "eval")
ENV = "ARENA_FAULT"


class Faults:
    """Where to die: SIGKILL (no clean-up) the ``count``-th time execution reaches ``point``.

    Args:
        point: one of :data:`POINTS`, or None for no fault.
        count: how many times the point is passed before the process dies (1: the first time).
    """

    def __init__(self, point: str | None = None, count: int = 1) -> None:
        if point is not None and point not in POINTS:
            raise ConfigError(f"{ENV}: unknown point {point!r} (points: {', '.join(POINTS)})")
        if count < 1:
            raise ConfigError(f"{ENV}: expected a positive count, got {count}")
        self.point, self.left = point, count

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Faults:
        """The fault that ``ARENA_FAULT=POINT[:N]`` names; no fault where it is unset."""
        spec = environ.get(ENV, "")
        if not spec:
            return cls()
        point, _, count = spec.partition(":")
        if count and not count.isdigit():
            raise ConfigError(f"{ENV}: expected POINT:N with a positive integer N, got {spec!r}")
        return cls(point, int(count or 1))

    def armed(self, point: str) -> bool:
        """Whether this fault waits at ``point``."""
        return self.point == point

    def hit(self, point: str) -> None:
        """Execution reached ``point``: die here once its count is reached."""
        if self.point == point:
            self.left -= 1
            if self.left <= 0:
                os.kill(os.getpid(), signal.SIGKILL)


NO_FAULTS = Faults()
"""The fault plan of every run that is not a crash-safety test: it never fires."""
