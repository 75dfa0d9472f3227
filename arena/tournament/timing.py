"""Where a whole run's time goes, part by part: ``arena run --profile`` (and ``benchmarks/scale.py``).

The loop marks its steps: it plays a matching's matches, runs each step of a review and calls each
callback inside ``tournament.timer.part(NAME)``. A tournament's timer is :data:`NO_TIMER`, which
does nothing; a :class:`Profile` put in its place (``run.tournament.timer = profile``) times every part it is
told of, synchronising the device around each so that GPU work is charged to the part that
launched it, and counts each part once (a part's own time, without the parts inside it). Nothing
is replaced or wrapped: what is timed is what the loop says it does. The parts:

- **start-up**: from the process's start (read from the operating system where it says) to the
  profile's start: the interpreter, imports, reading the config;
- **build**: the arena (data, agents, checks) and the run directory (timed by the caller with
  :meth:`Profile.part`);
- **matches**: the matchings' rounds (compilation, where ``compute.compile`` is on, happens in
  the first calls and is charged here);
- the review's steps: **sampling & metrics**, **cross-play**, **ratings**, **selection**,
  **mixture** (weights), **panel** (the output's calibration and judgement);
- the recording: **pictures**, **standings files**, **checkpoints**, **report** (its
  fixed-latent samples at every review, and the page at the end), **metrics log**;
- **other**: everything else (the loop's own work, the terminal display, warnings).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Protocol

import torch

__all__ = ["Timer", "NO_TIMER", "PARTS", "Profile", "process_age"]

PARTS = ("build", "matches", "sampling & metrics", "cross-play", "ratings", "selection", "mixture", "panel", "pictures",
         "standings files", "checkpoints", "report", "metrics log")
"""The parts of a run, in the order a profile's table shows them (``start-up`` before, ``other`` after)."""


class Timer(Protocol):
    """What the loop tells of its steps: each runs inside ``part(name)``."""

    def part(self, name: str) -> AbstractContextManager[None]: ...


class _NoTimer:
    """The timer of a tournament nobody profiles: its parts cost nothing."""

    def part(self, name: str) -> AbstractContextManager[None]:
        return contextlib.nullcontext()


NO_TIMER: Timer = _NoTimer()


def process_age() -> float | None:
    """Seconds since this process started, where the operating system says (Linux's /proc);
    None elsewhere."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


class Profile:
    """Time the parts of a run while entered (``with Profile(device) as p: run.tournament.timer = p;
    run.play()``, then ``p.table()``).

    Args:
        device: the run's device (CUDA work is synchronised around each part).
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.seconds: dict[str, float] = defaultdict(float)
        self.started: float | None = None
        self.total = 0.0
        self.startup = process_age()
        self._nested: list[float] = []  # time spent in timed calls inside each timed call now running

    def _sync(self) -> None:
        if self.device.type == "cuda" and torch.cuda.is_available():
            torch.cuda.synchronize(self.device)

    def __enter__(self) -> Profile:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sync()
        self.total = time.perf_counter() - (self.started or time.perf_counter())

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Time a block as the part ``name`` (the loop's steps, and the caller's own: building)."""
        self._sync()
        start = time.perf_counter()
        self._nested.append(0.0)
        try:
            yield
        finally:
            self._sync()
            spent = time.perf_counter() - start
            self.seconds[name] += spent - self._nested.pop()
            if self._nested:
                self._nested[-1] += spent

    def parts(self) -> dict[str, float]:
        """Seconds by part, each counted once (a timed call's own time, without the timed calls
        inside it: the review's own is its sampling and metrics); ``other`` is the rest of the
        profiled time; ``start-up`` precedes it."""
        out = {"start-up": self.startup} if self.startup is not None else {}
        out.update({part: 0.0 for part in PARTS if part != "build"})
        out.update(self.seconds)
        out["other"] = max(0.0, self.total - sum(self.seconds.values()))
        return out

    def table(self) -> str:
        """The parts as a Markdown table: seconds and share of the whole (start-up included)."""
        parts = self.parts()
        whole = sum(parts.values())
        order = ["start-up", *PARTS, "other"]
        lines = ["| part | seconds | share |", "| --- | ---: | ---: |"]
        for name in order + sorted(set(parts) - set(order)):
            if name in parts:
                lines.append(f"| {name} | {parts[name]:.2f} | {parts[name] / whole:.1%} |" if whole else
                             f"| {name} | {parts[name]:.2f} | |")
        lines.append(f"| **whole run** | **{whole:.2f}** | |")
        return "\n".join(lines)
