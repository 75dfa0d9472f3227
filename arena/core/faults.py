"""Fault injection for crash-safety tests: kill the process at a named point.

Set ``ARENA_FAULT=POINT:N`` to send SIGKILL to this process the N-th time execution reaches
``POINT``. The points: ``round`` (between a discriminator update and the generator update of
a round), ``checkpoint-write`` (checkpoint weights written to a temporary file, not yet renamed),
``checkpoint-manifest`` (weights renamed, manifest not yet written) and ``eval`` (in the middle of
an evaluation). Unset, every hook is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

__all__ = ["fault_point", "armed", "POINTS"]

POINTS = ("round", "checkpoint-write", "checkpoint-manifest", "eval")

_armed: dict[str, int] = {}
_spec = os.environ.get("ARENA_FAULT", "")
if _spec:
    point, _, count = _spec.partition(":")
    if point not in POINTS:
        raise SystemExit(f"ARENA_FAULT: unknown point {point!r} (points: {', '.join(POINTS)})")
    _armed[point] = int(count or 1)


def fault_point(name: str) -> None:
    """Die here (SIGKILL, no clean-up) if ``ARENA_FAULT`` names this point and its count is reached."""
    if name in _armed:
        _armed[name] -= 1
        if _armed[name] <= 0:
            os.kill(os.getpid(), signal.SIGKILL)


def armed(name: str) -> bool:
    """Whether ``ARENA_FAULT`` names this point."""
    return name in _armed
