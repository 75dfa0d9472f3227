"""The lock that keeps two processes from training one run directory at once.

The lock is an advisory ``flock`` on ``RUN_DIR/.lock``, which holds the pid and host of its
holder. The operating system drops a ``flock`` when its process dies, however it dies, so a
lock left by a killed process is stale by construction: the next ``arena run`` or
``arena resume`` takes it over (and says so). Where the file system does not support
``flock``, the recorded pid is checked instead.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from arena.core.errors import RunDirError

__all__ = ["RunLock"]

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except OSError:
        return False
    return True


def _holder(text: str) -> tuple[int | None, str]:
    parts = text.split()
    pid = int(parts[0]) if parts and parts[0].isdigit() else None
    return pid, parts[1] if len(parts) > 1 else ""


class RunLock:
    """An exclusive lock on one run directory.

    Args:
        path: the lock file (``RUN_DIR/.lock``).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.fd: int | None = None
        self.since: float | None = None
        """When this process took the lock (``time.time()``); a temporary file older is nobody's."""
        self.took_over: int | None = None
        """The pid of a dead holder whose stale lock this one replaced, if any."""

    def _refuse(self, pid: int | None, host: str) -> RunDirError:
        who = f"process {pid}" + (f" on {host}" if host and host != socket.gethostname() else "") if pid else "another process"
        return RunDirError(f"{self.path.parent} is in use by {who}; wait for it to finish or stop it, then try again")

    def acquire(self) -> RunLock:
        """Take the lock, or raise :class:`RunDirError` naming the process that holds it."""
        try:  # never through a link planted where the lock belongs
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            raise RunDirError(f"{self.path}: cannot take the lock ({exc.strerror or exc}; "
                              f"a symbolic link there is refused)") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise RunDirError(f"{self.path}: the lock is not a regular file; refused")
        previous = os.read(fd, 256).decode(errors="replace")
        pid, host = _holder(previous)
        locked = False
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
            except BlockingIOError:
                os.close(fd)
                raise self._refuse(pid, host) from None
            except OSError:  # no flock on this file system: fall back to the pid
                locked = False
        if not locked and pid is not None and pid != os.getpid() and host == socket.gethostname() and _alive(pid):
            os.close(fd)
            raise self._refuse(pid, host)
        if pid is not None and pid != os.getpid():
            self.took_over = pid
            warnings.warn(f"{self.path.parent}: took over the lock of process {pid}, which no longer runs",
                          RuntimeWarning, stacklevel=2)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        os.fsync(fd)
        self.fd = fd
        self.since = time.time()
        return self

    def release(self) -> None:
        """Drop the lock (the file stays, empty: removing it could let two later processes lock
        two different files of one name)."""
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
        os.close(self.fd)  # closing drops the flock
        self.fd = None

    @contextlib.contextmanager
    def held(self) -> Iterator[RunLock]:
        self.acquire()
        try:
            yield self
        finally:
            self.release()
