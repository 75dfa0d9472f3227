"""The ``arena`` command line and its terminal display."""

from arena.cli.commands import main

__all__ = ["main"]
