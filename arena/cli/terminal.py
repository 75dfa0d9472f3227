"""Where the terminal or the machine fails the command line: a width that makes no sense, standard
output closed or full, an operating-system error. Each ends quietly or in one line."""

from __future__ import annotations

import errno
import os
import sys

__all__ = ["EXIT_USER_ERROR", "EXIT_BROKEN_PIPE", "MIN_COLUMNS", "sane_columns", "missing_cwd", "NamedStdout", "console",
           "os_error"]

EXIT_USER_ERROR = 2
"""A user's mistake, or the user's environment (a full disk, a limit): one line on stderr."""
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports of a command whose reader went away (``arena list | head -1``)."""
MIN_COLUMNS = 20
"""The narrowest ``COLUMNS`` taken as meant; a smaller or unreadable one is dropped (the width is
then the terminal's, or 80)."""


def sane_columns(environ: dict[str, str] | None = None) -> None:
    """Drop a ``COLUMNS`` of 0, 1, a negative number or garbage, which would make rich print
    nothing and argparse wrap every word (``os.environ`` unless ``environ`` is given)."""
    env = os.environ if environ is None else environ
    text = env.get("COLUMNS")
    if text is None:
        return
    try:
        ok = int(text.strip()) >= MIN_COLUMNS
    except ValueError:
        ok = False
    if not ok:
        del env["COLUMNS"]


def missing_cwd() -> str | None:
    """The line to end with where the working folder was deleted or moved away (torch's math
    library cannot even load there), else None."""
    try:
        os.getcwd()
    except FileNotFoundError:
        return ("the working folder no longer exists (deleted or moved while this shell stood in it); "
                "`cd` to an existing folder and try again")
    return None


class NamedStdout:
    """Standard output whose write errors name it: a full device (``> /dev/full``) or a closed pipe
    is then told apart from a file's error. Everything else goes to the stream it wraps."""

    NAME = "<standard output>"

    def __init__(self, stream) -> None:
        self._stream = stream

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

    def _named(self, exc: OSError) -> OSError:
        if exc.filename is None and exc.errno is not None:
            return OSError(exc.errno, exc.strerror or str(exc), self.NAME)
        return exc

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except OSError as exc:
            raise self._named(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise self._named(exc) from None


def console(**options):
    """A rich console on standard output whose closed pipe ends the command as a plain print's
    does (:func:`os_error`: quietly, 141), not with rich's own exit code 1."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, "Broken pipe", NamedStdout.NAME)

    return _Console(**options)


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that what is still buffered does not fail again at exit."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


def os_error(command: str, exc: OSError) -> int:
    """End a command that met ``exc``: quietly with 141 where standard output's reader went away,
    else one line ``arena COMMAND: error: FILE: CAUSE; WHAT TO DO`` and exit code 2
    (``ARENA_DEBUG=1`` raises it, traceback and all)."""
    from arena.core.oserrors import describe

    if exc.filename == NamedStdout.NAME or isinstance(exc, BrokenPipeError):
        _silence_stdout()
        if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
            return EXIT_BROKEN_PIPE
    if os.environ.get("ARENA_DEBUG"):
        raise exc
    prefix = f"arena {command}: error: " if command else "arena: error: "
    try:
        print(prefix + describe(exc), file=sys.stderr)
    except OSError:  # stderr too: nothing more can be said
        pass
    return EXIT_USER_ERROR
