"""Where the values of a config came from: the file, the line of every key path, ``--set``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from arena.core.errors import ConfigError

__all__ = ["ConfigOrigin"]


class ConfigOrigin:
    """Where the values of a config came from: the file, its lines, and ``--set`` overrides.

    Args:
        source: the file (or ``<config>`` for a mapping built in Python).
        lines: key path -> 1-based line of its value in ``source``.
        overridden: key paths set by ``--set``.
    """

    def __init__(self, source: str, lines: Mapping[tuple[Any, ...], int] | None = None,
                 overridden: Iterable[tuple[Any, ...]] = ()) -> None:
        self.source = source
        self.lines = dict(lines or {})
        self.overridden = [tuple(p) for p in overridden]

    def locate(self, exc: ConfigError) -> ConfigError:
        """Fill in the file and line of an error raised with a key path only."""
        if any(exc.path[: len(p)] == p for p in self.overridden):
            return exc.locate("--set")
        return exc.locate(self.source, self.lines)
