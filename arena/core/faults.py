"""Fault injection for crash-safety tests: kill the process at a named point.

The fault plan is process-wide and never fires unless a crash-safety test arms it: ``arena``
commands read ``ARENA_FAULT=POINT:N`` from the environment when a run starts
(:func:`arm_from_env`), so a test can kill a subprocess the N-th time execution reaches
``POINT``. The code where a fault can fire calls :func:`hit`; no public signature carries the
plan. The points:

- ``round``: inside a round of play, on every path (one by one, stacked, fused);
- ``checkpoint-write``: checkpoint weights written to a temporary file, not yet renamed;
- ``checkpoint-manifest``: weights renamed, manifest not yet written;
- ``review``: in the middle of a review, after a generator's samples are drawn;
- ``write``: a file written (:func:`arena.core.files.atomic_write`, ``append_line``). Here the
  fault may instead raise an operating-system error: ``ARENA_FAULT=write:N:ENOSPC`` makes the
  N-th write fail as a full disk would (any ``errno`` name: EDQUOT, EIO, EMFILE, EACCES, ...),
  for the cases a test cannot make real.
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Mapping

from arena.core.errors import ConfigError

__all__ = ["Faults", "POINTS", "ENV", "arm", "arm_from_env", "disarm", "hit", "armed"]

POINTS = ("round", "checkpoint-write", "checkpoint-manifest", "review", "write")
ENV = "ARENA_FAULT"


class Faults:
    """Where to die: SIGKILL (no clean-up) the ``count``-th time execution reaches ``point``.

    Args:
        point: one of :data:`POINTS`, or None for no fault.
        count: how many times the point is passed before the process dies (1: the first time).
    """

    def __init__(self, point: str | None = None, count: int = 1, error: str | None = None) -> None:
        if point is not None and point not in POINTS:
            raise ConfigError(f"{ENV}: unknown point {point!r} (points: {', '.join(POINTS)})")
        if count < 1:
            raise ConfigError(f"{ENV}: expected a positive count, got {count}")
        if error is not None and not isinstance(getattr(errno, error, None), int):
            raise ConfigError(f"{ENV}: unknown errno name {error!r} (for example ENOSPC, EIO, EMFILE)")
        self.point, self.left, self.error = point, count, error

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Faults:
        """The fault that ``ARENA_FAULT=POINT[:N]`` names; no fault where it is unset."""
        spec = environ.get(ENV, "")
        if not spec:
            return cls()
        point, _, rest = spec.partition(":")
        count, _, error = rest.partition(":")
        if count and not count.isdigit():
            raise ConfigError(f"{ENV}: expected POINT[:N[:ERRNO]] with a positive integer N, got {spec!r}")
        return cls(point, int(count or 1), error or None)

    def hit(self, point: str, path: object = None) -> None:
        """Execution reached ``point`` (writing ``path``, where it writes one): die, or raise the
        planned operating-system error, once its count is reached (once only)."""
        if self.point == point:
            self.left -= 1
            if self.left <= 0:
                if self.error is None:
                    os.kill(os.getpid(), signal.SIGKILL)
                    return
                code = int(getattr(errno, self.error))
                self.point = None
                raise OSError(code, os.strerror(code), None if path is None else str(path))


_plan = Faults()


def arm(point: str | None, count: int = 1, error: str | None = None) -> None:
    """Make the process die (or, with ``error``, an errno name, fail as the operating system
    would) the ``count``-th time it reaches ``point`` (None: never)."""
    global _plan
    _plan = Faults(point, count, error)


def arm_from_env(environ: Mapping[str, str] = os.environ) -> None:
    """Arm the fault ``ARENA_FAULT`` names, if any (``arena run`` and ``arena resume`` do this)."""
    global _plan
    _plan = Faults.from_env(environ)


def disarm() -> None:
    """No fault fires from now on."""
    arm(None)


def armed(point: str) -> bool:
    """Whether a fault waits at ``point``."""
    return _plan.point == point


def hit(point: str, path: object = None) -> None:
    """Execution reached ``point`` (writing ``path``): the process dies, or the write fails, here
    if the plan says so."""
    if _plan.point is not None:
        _plan.hit(point, path)
