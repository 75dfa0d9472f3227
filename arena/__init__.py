"""The arena: where agents meet, play games and are rated.

Exports are loaded lazily (PEP 562): ``agents`` and ``games`` import ``arena.core.errors`` and
``arena.core.registry`` (two modules with no project imports), and importing the package must not
pull in the rest of the arena, which itself imports ``agents`` and ``games``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
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
    # building and running
    "Arena",
    "build_arena",
    "Tournament",
    "play_match",
    # data
    "DataSource",
    "DataStream",
    "sources",
    # metrics
    "mode_metrics",
    # checkpoints
    "save_checkpoint",
    "load_checkpoint",
    # seeding
    "derive_seed",
    # CLI
    "main",
]

_WHERE = {
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
    "play_match": "arena.engine.match",
    "DataSource": "arena.data",
    "DataStream": "arena.data",
    "sources": "arena.data",
    "mode_metrics": "arena.evaluation.metrics",
    "save_checkpoint": "arena.rundir.checkpoint",
    "load_checkpoint": "arena.rundir.checkpoint",
    "derive_seed": "arena.core.seeding",
    "main": "arena.cli",
}

if TYPE_CHECKING:  # pragma: no cover
    from arena.engine.arena import Arena, build_arena
    from arena.rundir.checkpoint import load_checkpoint, save_checkpoint
    from arena.cli.commands import main
    from arena.config import RunConfig, load_config, parse_config
    from arena.data import DataSource, DataStream, sources
    from arena.core.errors import ArenaError, CheckpointError, ConfigError, DataError, RunDirError, UnknownId
    from arena.engine.match import play_match
    from arena.evaluation.metrics import mode_metrics
    from arena.core.seeding import derive_seed
    from arena.tournament.loop import Tournament


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'arena' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
