"""Where a whole run's time goes, part by part: ``arena run --profile`` (and ``benchmarks/scale.py``).

A :class:`Profile` times the functions that do each part of a run for as long as it is entered
(it wraps them, and puts the originals back on exit), synchronising the device around each so
that GPU work is charged to the part that launched it. The parts:

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
from typing import Any

import torch

__all__ = ["Profile", "process_age"]


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


def _targets() -> list[tuple[Any, str, str]]:
    """(owner, attribute, part) of every function a profile times; nested ones are subtracted
    from the parts that call them."""
    from arena.engine.execution import MatchRunner
    from arena.recording.pictures import PictureWriter
    from arena.recording.report import ReportWriter
    from arena.recording.writers import CheckpointWriter, StandingsWriter
    from arena.rundir.metrics_log import MetricsLog
    from arena.tournament import review
    from arena.tournament.loop import Tournament
    from arena.tournament.standings import Standings

    return [
        (MatchRunner, "play", "matches"),
        (Tournament, "review", "sampling & metrics"),
        (review, "cross_play", "cross-play"),
        (Standings, "add_results", "ratings"),
        (review, "select", "selection"),
        (review, "mix", "mixture"),
        (review, "judge_output", "panel"),
        (PictureWriter, "on_review", "pictures"),
        (StandingsWriter, "on_review", "standings files"),
        (CheckpointWriter, "on_checkpoint", "checkpoints"),
        (ReportWriter, "on_review", "report"),
        (ReportWriter, "on_run_end", "report"),
        (MetricsLog, "write", "metrics log"),
    ]


class Profile:
    """Time the parts of a run while entered (``with Profile(device) as p: ...; p.table()``).

    Args:
        device: the run's device (CUDA work is synchronised around each part).
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.seconds: dict[str, float] = defaultdict(float)
        self.started: float | None = None
        self.total = 0.0
        self.startup = process_age()
        self._originals: list[tuple[Any, str, Any]] = []
        self._nested: list[float] = []  # time spent in timed calls inside each timed call now running

    def _sync(self) -> None:
        if self.device.type == "cuda" and torch.cuda.is_available():
            torch.cuda.synchronize(self.device)

    def _wrap(self, owner: Any, attr: str, part: str) -> None:
        original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        profile = self

        def timed(*args, **kwargs):
            profile._sync()
            start = time.perf_counter()
            profile._nested.append(0.0)
            try:
                return original(*args, **kwargs)
            finally:
                profile._sync()
                spent = time.perf_counter() - start
                inner = profile._nested.pop()
                profile.seconds[part] += spent - inner  # its own time: parts it calls count as theirs
                if profile._nested:
                    profile._nested[-1] += spent

        timed.__wrapped__ = original  # type: ignore[attr-defined]
        self._originals.append((owner, attr, original))
        setattr(owner, attr, timed)

    def __enter__(self) -> Profile:
        for owner, attr, part in _targets():
            self._wrap(owner, attr, part)
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sync()
        self.total = time.perf_counter() - (self.started or time.perf_counter())
        for owner, attr, original in reversed(self._originals):
            setattr(owner, attr, original)
        self._originals = []

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Time a block as the part ``name`` (the caller's own parts: building, for one)."""
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
        out.update({part: 0.0 for _, _, part in _targets()})
        out.update(self.seconds)
        out["other"] = max(0.0, self.total - sum(self.seconds.values()))
        return out

    def table(self) -> str:
        """The parts as a Markdown table: seconds and share of the whole (start-up included)."""
        parts = self.parts()
        whole = sum(parts.values())
        order = ["start-up", "build", "matches", "sampling & metrics", "cross-play", "ratings", "selection", "mixture",
                 "panel", "pictures", "standings files", "checkpoints", "report", "metrics log", "other"]
        lines = ["| part | seconds | share |", "| --- | ---: | ---: |"]
        for name in order + sorted(set(parts) - set(order)):
            if name in parts:
                lines.append(f"| {name} | {parts[name]:.2f} | {parts[name] / whole:.1%} |" if whole else
                             f"| {name} | {parts[name]:.2f} | |")
        lines.append(f"| **whole run** | **{whole:.2f}** | |")
        return "\n".join(lines)
