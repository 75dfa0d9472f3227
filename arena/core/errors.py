"""Every error a user can cause, in one hierarchy.

The CLI turns any :class:`ArenaError` into one line on stderr and exit code 2.
This module imports nothing from the rest of the project, so that ``agents`` and
``games`` may raise these errors without depending on the arena.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "ArenaError",
    "ConfigError",
    "UnknownId",
    "DataError",
    "CheckpointError",
    "RunDirError",
    "format_path",
    "WRONG_SHAPE",
]

WRONG_SHAPE = (KeyError, IndexError, TypeError, ValueError, AttributeError)
"""What code raises on a value of the wrong type or shape read from a file (a run directory edited
or damaged by hand) past the checks where the file is read: the readers that fall back or end in
one line catch these (each with the few others its own work can raise)."""


def format_path(path: Iterable[str | int]) -> str:
    """Render a key path such as ``("agents", 1, "optim", "lr")`` as ``agents[1].optim.lr``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class ArenaError(Exception):
    """Base class of every error that a user's input can cause."""


class ConfigError(ArenaError, ValueError):
    """A config value is missing, unknown, of the wrong type or out of range.

    Args:
        message: what is wrong, without the location.
        path: the key path inside the config, e.g. ``("agents", 1, "optim", "lr")``.
        file: the config file (or ``--set``) the value came from.
        line: the 1-based line of the value in ``file`` where YAML gives one.
    """

    def __init__(
        self,
        message: str,
        path: Iterable[str | int] = (),
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.path = tuple(path)
        self.file = file
        self.line = line
        super().__init__(str(self))

    def locate(self, file: str | None, lines: Mapping[tuple[Any, ...], int] | None = None) -> ConfigError:
        """Fill in the file and line (from a path -> line map) where they are still unknown."""
        if self.file is None:
            self.file = file
        if self.line is None and lines:
            path = self.path
            while path and path not in lines:
                path = path[:-1]
            self.line = lines.get(path)
        self.args = (str(self),)
        return self

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        key = f"{format_path(self.path)}: " if self.path else ""
        return f"{where}{key}{self.message}"


class UnknownId(ConfigError, KeyError):
    """An id (game, network, data source, ...) that no registry holds."""

    def __str__(self) -> str:  # KeyError would quote the message
        return ConfigError.__str__(self)


class DataError(ArenaError):
    """A data file is missing, empty, of the wrong shape or dtype, or holds NaN."""


class CheckpointError(ArenaError):
    """No usable checkpoint, or one that fails its checksum."""


class RunDirError(ArenaError):
    """A run directory that is missing, or one that would be overwritten."""
