"""Operating-system errors (a full disk, a limit, a read-only or vanished folder) told in one line.

The machine, not the user's input, causes these: the CLI turns each :class:`OSError` into
``arena VERB: error: FILE: CAUSE; WHAT TO DO`` and exit code 2 (``ARENA_DEBUG=1`` shows the
traceback). Where a run was training, what to do ends with resuming it: every write of a run
directory is atomic, so a run stopped this way loses nothing past its last checkpoint.

This module imports nothing from the rest of the project.
"""

from __future__ import annotations

import errno
import os
import shlex
from pathlib import Path

__all__ = ["describe", "training", "CAUSES"]

CAUSES: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space is left on the device", "free space"),
    errno.EDQUOT: ("the disk quota is exceeded", "free space within your quota (or have it raised)"),
    errno.EFBIG: ("the file would grow past the file-size limit", "raise the limit (`ulimit -f unlimited`)"),
    errno.EACCES: ("permission denied", "make the folder writable, or write elsewhere (--out / -o)"),
    errno.EPERM: ("the operation is not permitted", "make the folder writable, or write elsewhere (--out / -o)"),
    errno.ENOENT: ("no such file or folder", "check the path"),
    errno.EMFILE: ("this process has too many open files", "raise the limit (`ulimit -n 4096`)"),
    errno.ENFILE: ("the system has too many open files", "close other programs' files, or raise fs.file-max"),
    errno.ENAMETOOLONG: ("the name is longer than the file system allows", "choose a shorter name or folder"),
    errno.EROFS: ("the file system is read-only", "write to a writable folder (--out / -o)"),
    errno.EIO: ("an input/output error of the device", "check the disk (`dmesg`), then try again"),
    errno.ENOTDIR: ("a part of the path is not a folder", "check the path"),
    errno.EISDIR: ("it is a folder", "name a file"),
    errno.ENOMEM: ("the system is out of memory", "free memory or lower the batch size"),
}

_run: Path | None = None
"""The run directory this process trains, where one does (its resume hint)."""


def training(path: str | Path | None) -> None:
    """Say which run directory this process trains (None: none), for the resume hint."""
    global _run
    _run = Path(path) if path is not None else None


def _vanished(name: str) -> Path | None:
    """The nearest folder above ``name`` that no longer exists, if its own parent does (the
    folder deleted or moved away under us)."""
    path = Path(name)
    missing = None
    for folder in path.parents:
        if str(folder) in ("", "."):
            break
        if folder.exists():
            return missing
        missing = folder
    return None


def describe(exc: OSError) -> str:
    """One line for ``exc``: the file, the cause in words, and what to do."""
    code = exc.errno if isinstance(exc.errno, int) else -1
    cause, todo = CAUSES.get(code, (exc.strerror or str(exc) or type(exc).__name__, "check the file and try again"))
    name = exc.filename
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    if code == errno.ENOENT and name is not None and (gone := _vanished(str(name))) is not None:
        cause = f"the folder {gone} no longer exists (deleted or moved while the command ran)"
        todo = "restore it, or point the command at where it went"
    where = f"{name}: " if name is not None else ""
    if exc.filename2 is not None:
        where = f"{name} -> {exc.filename2}: "
    line = f"{where}{cause}; {todo}"
    if _run is not None:
        line += f", then `arena resume {shlex.quote(str(_run))}` (nothing past the last checkpoint is lost)"
    elif code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EMFILE, errno.ENFILE, errno.EIO):
        line += ", then run the command again"
    return line
