"""The arena: where agents meet, play games and are rated.

The Python API::

    import arena

    run = arena.run("configs/tournament_ring8.yaml")       # train: a Run
    run.sample(2500, agent="mixture")                       # samples of the mixture
    run.evaluate(agent="mixture")                           # the data's metrics
    arena.resume("runs/tournament-ring8-20261130-101500")  # continue a stopped run
    arena.load("runs/tournament-ring8-20261130-101500")    # read a run: sample, evaluate, leaderboard

Exports are loaded lazily (PEP 562): ``agents`` and ``games`` import ``arena.core``, and
importing the package must not pull in the rest of the arena, which itself imports ``agents``
and ``games``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    # running, resuming, reading runs
    "run",
    "resume",
    "load",
    "Run",
    "Callback",
    "Review",
    # errors
    "ArenaError",
    "ConfigError",
    "UnknownId",
    "DataError",
    "CheckpointError",
    "RunDirError",
    # config
    "RunConfig",
    "load_config",
    "parse_config",
    # the pieces
    "Arena",
    "build_arena",
    "Tournament",
    "RunDir",
    "play_match",
    "DataSource",
    "DataStream",
    "sources",
    "derive_seed",
    # CLI
    "main",
]

_WHERE = {
    "run": "arena.api",
    "resume": "arena.api",
    "load": "arena.api",
    "Run": "arena.api",
    "Callback": "arena.tournament.callbacks",
    "Review": "arena.tournament.callbacks",
    "ArenaError": "arena.core.errors",
    "ConfigError": "arena.core.errors",
    "UnknownId": "arena.core.errors",
    "DataError": "arena.core.errors",
    "CheckpointError": "arena.core.errors",
    "RunDirError": "arena.core.errors",
    "RunConfig": "arena.config",
    "load_config": "arena.config",
    "parse_config": "arena.config",
    "Arena": "arena.engine.arena",
    "build_arena": "arena.engine.arena",
    "Tournament": "arena.tournament.loop",
    "RunDir": "arena.rundir",
    "play_match": "arena.engine.match",
    "DataSource": "arena.data",
    "DataStream": "arena.data",
    "sources": "arena.data",
    "derive_seed": "arena.core.seeding",
    "main": "arena.cli",
}

if TYPE_CHECKING:  # pragma: no cover
    from arena.api import Run, load, resume, run
    from arena.cli import main
    from arena.config import RunConfig, load_config, parse_config
    from arena.core.errors import ArenaError, CheckpointError, ConfigError, DataError, RunDirError, UnknownId
    from arena.core.seeding import derive_seed
    from arena.data import DataSource, DataStream, sources
    from arena.engine.arena import Arena, build_arena
    from arena.engine.match import play_match
    from arena.rundir import RunDir
    from arena.tournament.callbacks import Callback, Review
    from arena.tournament.loop import Tournament


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'arena' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
