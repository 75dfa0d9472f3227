"""Reading and writing files that may come from someone else: bounded, link-safe, one-line errors.

Every file the project reads is input: a config, a run directory someone shared, a data file.
The rules, in one place:

- **Reads are bounded and happen once.** :func:`read_bytes` opens a file once and reads at most
  ``limit`` bytes, so a file that never ends (a device, a stream, a file whose reported size is
  0) is refused instead of filling memory, and a pipe (``arena check <(envsubst < t.yaml)``)
  works where ``pipes`` allows it. Directories, devices and sockets are refused by name.
- **JSON is parsed with its file named.** :func:`read_json` refuses text that is not UTF-8 or
  not JSON, nesting beyond Python's stack, and a top-level value of the wrong type.
- **Writes never follow links.** :func:`atomic_write` creates its temporary file exclusively,
  without following links (``O_CREAT | O_EXCL | O_NOFOLLOW``), writes, fsyncs and renames; a
  link standing where the file should be is refused. :func:`append_line` appends the same way.
- **Paths named inside files stay inside.** :func:`inside` resolves a relative name read from a
  file and refuses one that leaves its parent (absolute, ``..``, or through a link).

Errors are :class:`arena.core.errors.RunDirError` (or the ``error`` class a caller passes), each
one line naming the file.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import select
import stat
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from arena.core import faults
from arena.core.errors import ArenaError, RunDirError

__all__ = ["read_bytes", "read_text", "read_json", "atomic_write", "append_line", "inside", "refuse_links", "cache_dir",
           "save_to_cache", "is_temporary", "temporary_name", "dump_json",
           "load_npy", "load_npz", "read_lines", "MAX_JSON_BYTES"]

MAX_JSON_BYTES = 64 * 1024 * 1024
"""The most a run's JSON file may hold (a long 32 x 32 tournament's results.json is some tens of
MB); parsed, JSON takes several times its size in memory."""

PIPE_WAIT = 30.0
"""Seconds a pipe may stay silent before its read is refused (a named pipe nothing writes to)."""

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISFIFO, "a pipe")):
        if test(mode):
            return name
    return "not a regular file"


def read_bytes(path: str | Path, limit: int, what: str = "file", pipes: bool = False,
               error: type[ArenaError] = RunDirError) -> bytes:
    """The bytes of ``path``, read once and at most ``limit`` of them.

    Args:
        path: the file (links are followed: reading cannot change anything).
        limit: refuse a file larger than this many bytes, whatever size it reports.
        what: how the error names the file ("config", "run file", ...).
        pipes: accept a pipe (read to its end, within ``limit``); otherwise only regular files.
        error: the :class:`ArenaError` subclass to raise.
    """
    path = Path(path)
    info = _stat(path, what, error, pipes)
    regular = stat.S_ISREG(info.st_mode)
    if regular and info.st_size > limit:
        raise error(f"{path}: the {what} is {info.st_size:,} bytes; at most {limit:,} are read")
    fifo = not regular
    try:  # a named pipe is opened without blocking, so that one no process writes to cannot hang us
        fd = os.open(path, os.O_RDONLY | _CLOEXEC | (os.O_NONBLOCK if fifo else 0))
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode) and not (pipes and stat.S_ISFIFO(mode)):
            raise error(f"{path}: the {what} changed into {_kind(mode)} while opened")
        chunks, total = [], 0
        while True:
            if fifo and not select.select([fd], [], [], PIPE_WAIT)[0]:
                raise error(f"{path}: nothing came through the pipe in {PIPE_WAIT:.0f} s (does any process write to it?)")
            try:
                chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            except BlockingIOError:
                continue
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise error(f"{path}: the {what} holds more than {limit:,} bytes; at most {limit:,} are read")
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_lines(path: str | Path, limit: int, line_limit: int, what: str = "file",
               error: type[ArenaError] = RunDirError) -> Iterator[str]:
    """The lines of the regular file ``path`` (with their newlines), streamed: at most ``limit``
    bytes in all and ``line_limit`` a line, so memory holds one line at a time."""
    path = Path(path)
    info = _stat(path, what, error)
    if info.st_size > limit:
        raise error(f"{path}: the {what} is {info.st_size:,} bytes; at most {limit:,} are read")
    total = 0
    with open(path, "rb") as f:
        number = 0
        while True:
            raw = f.readline(line_limit + 1)
            if not raw:
                return
            number += 1
            total += len(raw)
            if len(raw) > line_limit or total > limit:
                raise error(f"{path}, line {number}: longer than {line_limit:,} bytes (or the {what} grew past "
                            f"{limit:,}); refused")
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise error(f"{path}, line {number}: not UTF-8 text (byte {exc.start})") from None


def _stat(path: Path, what: str, error: type[ArenaError], pipes: bool = False) -> os.stat_result:
    """``path``'s status (links followed), refused unless it is a regular file (or, with
    ``pipes``, a pipe)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode) and not (pipes and stat.S_ISFIFO(info.st_mode)):
        raise error(f"{path}: the {what} is {_kind(info.st_mode)}, not a regular file")
    return info


def read_text(path: str | Path, limit: int, what: str = "file", pipes: bool = False,
              error: type[ArenaError] = RunDirError) -> str:
    """:func:`read_bytes` decoded as UTF-8 (a file that is not UTF-8 is refused by name)."""
    data = read_bytes(path, limit, what, pipes, error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: the {what} is not UTF-8 text (byte {exc.start})") from None


def parse_json(text: str, source: str, expect: type | tuple[type, ...] | None = None,
               error: type[ArenaError] = RunDirError) -> Any:
    """``text`` parsed as JSON, its top-level value of type ``expect`` where given."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise error(f"{source}: JSON nested too deeply") from None
    except ValueError as exc:
        raise error(f"{source}: not valid JSON ({exc})") from None
    if expect is not None and not isinstance(value, expect):
        names = " or ".join(t.__name__ for t in (expect if isinstance(expect, tuple) else (expect,)))
        wanted = names.replace("dict", "an object").replace("list", "a list")
        raise error(f"{source}: expected {wanted} at the top, found {type(value).__name__}")
    return value


def strict(value: Any) -> Any:
    """``value`` with every float that JSON cannot hold (NaN, infinities) as None: what the run
    writes is read by strict parsers too (``jq``, JavaScript, most languages' libraries)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def dump_json(value: Any, indent: int | None = None) -> str:
    """``value`` as strict JSON (:func:`strict`: no NaN or Infinity; undefined numbers are null)."""
    return json.dumps(strict(value), indent=indent, allow_nan=False)


def read_json(path: str | Path, expect: type | tuple[type, ...] | None = None, limit: int = MAX_JSON_BYTES,
              error: type[ArenaError] = RunDirError) -> Any:
    """The JSON value in ``path`` (bounded, UTF-8), of type ``expect`` where given."""
    return parse_json(read_text(path, limit, "JSON file", error=error), str(path), expect, error)


def refuse_link(path: Path, error: type[ArenaError] = RunDirError) -> None:
    """Refuse a symbolic link standing where a file of ours should be."""
    if path.is_symlink():
        raise error(f"{path} is a symbolic link where a file of the run belongs; refused "
                    f"(a run directory holds only plain files and folders)")


def atomic_write(path: str | Path, data: bytes, before_rename: Callable[[], None] | None = None) -> None:
    """Write ``data`` to ``path`` so that a reader sees either the old file or the whole new one.

    The temporary file is created exclusively under a fresh name, never through a link, and a
    link at ``path`` itself is refused (renaming over it would be harmless, but a link there is
    someone's plant). ``before_rename`` is called between the write and the rename (a
    fault-injection point).
    """
    path = Path(path)
    refuse_link(path)
    tmp = temporary_name(path)
    try:
        faults.hit("write", path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644)
    except OSError as exc:
        raise _named(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if before_rename is not None:
            before_rename()
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _named(exc, path) from None
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def cache_dir(name: str) -> Path:
    """Where what is computed once is kept: ``$GAN_ARENA_CACHE/NAME``, else
    ``$XDG_CACHE_HOME/gan-arena/NAME``, else ``~/.cache/gan-arena/NAME``."""
    own = os.environ.get("GAN_ARENA_CACHE")
    if own:
        return Path(own) / name
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "gan-arena" / name


def save_to_cache(path: Path, obj: Any) -> None:
    """``torch.save`` ``obj`` at ``path`` (its folder made), whole or not at all (:func:`atomic_write`)."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buffer.getvalue())


def append_line(path: str | Path, line: str) -> None:
    """Append ``line`` (and a newline) to ``path``, created if missing, never through a link."""
    try:
        faults.hit("write", path)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o644)
        with os.fdopen(fd, "a") as f:
            f.write(line + "\n")
    except OSError as exc:
        raise _named(exc, Path(path)) from None


def _named(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path`` (the file meant, not a temporary one; a failed write names none)."""
    if exc.errno is None:
        return exc
    return OSError(exc.errno, exc.strerror or str(exc), str(path))  # OSError picks the subclass of the errno


_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{8}\.tmp")
"""A temporary file of :func:`atomic_write`: ``.NAME.<8 hex digits>.tmp`` beside ``NAME``."""


def temporary_name(path: Path) -> Path:
    """A fresh temporary name beside ``path`` for a file written whole, then renamed into place
    (:func:`is_temporary` knows it: a crash's leftover can be told apart and removed)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def is_temporary(name: str) -> bool:
    """Whether ``name`` is one of :func:`temporary_name`'s."""
    return _TEMPORARY.fullmatch(name) is not None


def inside(parent: str | Path, name: Any, what: str, error: type[ArenaError] = RunDirError) -> Path:
    """``parent / name`` for a ``name`` read from a file, refused unless it is a relative name
    that stays inside ``parent`` once resolved (no absolute path, ``..`` or link out)."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise error(f"{parent}: {what} {name!r} is not a file name")
    if os.path.isabs(name) or ".." in Path(name).parts:
        raise error(f"{parent}: {what} {name!r} leaves the directory; refused")
    path = Path(parent) / name
    root = Path(parent).resolve()
    if not path.resolve().is_relative_to(root):
        raise error(f"{parent}: {what} {name!r} leads outside the directory (through a link); refused")
    return path


def refuse_links(root: str | Path, error: type[ArenaError] = RunDirError) -> None:
    """Refuse a directory tree that holds a symbolic link anywhere inside it (``root`` itself may
    be one). A run directory is written only by us, and we never make links."""
    root = Path(root)
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            p = Path(folder) / name
            if p.is_symlink():
                raise error(f"{p} is a symbolic link inside the run directory; refused "
                            f"(a run directory holds only plain files and folders: remove the link)")


def _npy_header(f: IO[bytes], source: str, limit: int, error: type[ArenaError]) -> int:
    """Check the header of the ``.npy`` stream ``f`` (at its start): a plain dtype (no pickled
    objects) and at most ``limit`` bytes of data, before anything is allocated. Returns the size."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (ValueError, OSError, SyntaxError, TypeError, EOFError) as exc:
        raise error(f"{source}: cannot read as a .npy array ({str(exc).splitlines()[0][:200]})") from None
    if dtype.hasobject:
        raise error(f"{source}: holds Python objects (pickled); only plain numeric arrays are read")
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if size > limit:
        raise error(f"{source}: declares {size:,} bytes of data (shape {tuple(shape)}); at most {limit:,} are read")
    return size


def load_npy(path: str | Path, limit: int, error: type[ArenaError] = RunDirError) -> np.ndarray:
    """The array in the ``.npy`` file ``path``, its header checked first (:func:`_npy_header`)."""
    path = Path(path)
    _stat(path, ".npy file", error)
    try:
        with open(path, "rb") as f:
            _npy_header(f, str(path), limit, error)
            f.seek(0)
            return cast(np.ndarray, np.load(f, allow_pickle=False))
    except (ValueError, OSError, EOFError) as exc:
        raise error(f"{path}: cannot read as a .npy array ({str(exc).splitlines()[0][:200]})") from None


def load_npz(path: str | Path, limit: int, error: type[ArenaError] = RunDirError) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive ``path``, each member's header checked before it is
    decompressed, and ``limit`` bytes in all."""
    path = Path(path)
    _stat(path, ".npz archive", error)
    out: dict[str, np.ndarray] = {}
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > 10_000:
                raise error(f"{path}: holds {len(members):,} arrays; refused")
            for member in members:
                source = f"{path}[{member.filename}]"
                with archive.open(member) as f:
                    total += _npy_header(f, source, limit - total, error)
                with archive.open(member) as f:
                    name = member.filename[:-4] if member.filename.endswith(".npy") else member.filename
                    out[name] = np.lib.format.read_array(f, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise error(f"{path}: not a readable .npz archive ({str(exc).splitlines()[0][:200]})") from None
    return out
