"""An image folder decoded once: ``pixels.u8`` (uint8, ``(N, C, H, W)`` row after row) and
``manifest.json`` (every file's name, size and modification time, the crop, the size, the filter,
and the files that could not be read), in ``$GAN_ARENA_IMAGE_CACHE/<key>`` (default ``$GAN_ARENA_CACHE/images``, that is
``~/.cache/gan-arena/images``).

The key hashes the folder's resolved path and the decoding options, so a folder decoded two ways
has two caches. Opening compares the folder's listing (names, sizes, modification times: no
file is read) with the manifest; a changed folder is decoded again, with one line saying what
changed. Decoding runs in forked worker processes (one per core, on Linux; elsewhere in this process), each turning a chunk of files into
pixels; the main process writes them in order. Both files are written under temporary names and
renamed into place, so a cache is whole or absent.
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from arena.core.errors import DataError
from arena.core.files import atomic_write, cache_dir, dump_json, is_temporary, read_json, temporary_name
from arena.core.resources import human_bytes

__all__ = ["ImageCache", "listing", "decode", "decode_folder", "FILTERS", "IMAGE_SUFFIXES", "MAX_IMAGE_PIXELS"]

VERSION = 1
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_IMAGE_PIXELS = 100_000_000
"""The most pixels one image file may declare (a 10,000 x 10,000 photograph); larger ones are
skipped from their header, before they are decoded."""
FILTERS = ("nearest", "box", "bilinear", "hamming", "bicubic", "lanczos")
CHUNK = 512
"""Files a worker decodes at a time."""
PARALLEL_FROM = 2000
"""Folders with fewer files are decoded in this process (starting workers costs more)."""

Listing = list[tuple[str, int, int]]
"""(name relative to the folder, size in bytes, modification time in ns), sorted by name."""


def _scan(here: str, prefix: str) -> tuple[Listing, list[tuple[str, str]]]:
    """The image files directly in ``here`` (names prefixed), and its subfolders."""
    files: Listing = []
    folders: list[tuple[str, str]] = []
    try:
        entries = list(os.scandir(here))
    except OSError as exc:
        raise DataError(f"cannot list {here} ({exc.strerror or exc})") from None
    for entry in entries:
        name = entry.name
        if entry.is_dir(follow_symlinks=False):
            folders.append((entry.path, prefix + name + "/"))
            continue
        dot = name.rfind(".")
        if dot < 0 or name[dot:].lower() not in IMAGE_SUFFIXES or not entry.is_file():
            continue
        info = entry.stat()
        files.append((prefix + name, info.st_size, info.st_mtime_ns))
    return files, folders


def listing(folder: Path) -> Listing:
    """Every image file under ``folder`` (regular files only: a pipe or a device with an image's
    name would hang), sorted, with its size and modification time: 200,000 files in about 1.5 s
    (one thread: several only contend for the interpreter's lock)."""
    out: Listing = []
    pending = [(str(folder), "")]
    while pending:
        files, folders = _scan(*pending.pop())
        out += files
        pending += folders
    out.sort()
    return out


def decode(path: str, size: list[int] | None, channels: int, crop: str, filter: str) -> np.ndarray:
    """One image as uint8 ``(C, H, W)``: EXIF orientation applied, grey or RGB, cut to the
    target's aspect around its centre (``crop: center``), resized with ``filter``.

    Raises:
        ValueError: with the reason, where the file cannot be read as an image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            width, height = im.size  # from the header: nothing is decoded yet
            if width * height > MAX_IMAGE_PIXELS:
                raise ValueError(f"declares {width:,} x {height:,} pixels; at most {MAX_IMAGE_PIXELS:,} are decoded")
            im = ImageOps.exif_transpose(im)
            im = im.convert("L" if channels == 1 else "RGB")
            if size is not None:
                h, w = size
                if crop == "center":  # the largest centred part of the target's aspect, in whole pixels
                    scale = min(im.width / w, im.height / h)
                    cw, ch = max(1, round(w * scale)), max(1, round(h * scale))
                    left, top = (im.width - cw) // 2, (im.height - ch) // 2
                    im = im.crop((left, top, left + cw, top + ch))
                im = im.resize((w, h), getattr(Image.Resampling, filter.upper()))
            a = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ValueError(str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__) from None
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def _decode_chunk(folder: str, names: list[str], size, channels, crop, filter) -> tuple[list[np.ndarray | None], list[str]]:
    """Decode ``names`` (a worker's chunk): each image, or None and the reason."""
    out: list[np.ndarray | None] = []
    reasons: list[str] = []
    for name in names:
        try:
            out.append(decode(os.path.join(folder, name), size, channels, crop, filter))
            reasons.append("")
        except ValueError as exc:
            out.append(None)
            reasons.append(str(exc))
    return out, reasons


def _chunks(folder: Path, names: list[str], options: dict[str, Any]):
    """The decoded chunks of ``names`` in order: in worker processes for a large folder."""
    parts = [names[i:i + CHUNK] for i in range(0, len(names), CHUNK)]
    workers = min(os.cpu_count() or 1, len(parts))
    # Forked workers, on Linux only. Spawned ones would import the user's main script again: a
    # script without an `if __name__ == "__main__":` guard (most training scripts) would start
    # its run in every worker, and one read from stdin cannot be imported at all. The children
    # run PIL and numpy only, never torch, whose thread pools the parent may hold.
    forking = sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
    if len(names) < PARALLEL_FROM or workers < 2 or not forking:
        for part in parts:
            yield part, _decode_chunk(str(folder), part, **options)
        return
    # At most two chunks a worker are in flight, so that decoded pixels wait in memory for a few
    # chunks, not the folder.
    with warnings.catch_warnings(), \
            concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)  # Python 3.12+: see above
        pending: collections.deque = collections.deque()
        for part in parts:
            pending.append((part, pool.submit(_decode_chunk, str(folder), part, **options)))
            if len(pending) >= 2 * workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()


class _Progress:
    """A line on stderr every few seconds while a large folder decodes."""

    def __init__(self, total: int, folder: Path, cached: bool, every: float = 10.0) -> None:
        self.total, self.done, self.start, self.last, self.every = total, 0, time.perf_counter(), 0.0, every
        self.on = total >= PARALLEL_FROM
        if self.on:
            where = " into a cache (once: later runs open it in seconds)" if cached else " into memory (data.cache: false)"
            print(f"decoding {total:,} images of {folder}{where}", file=sys.stderr, flush=True)

    def step(self, n: int) -> None:
        self.done += n
        now = time.perf_counter() - self.start
        if self.on and now - self.last >= self.every and self.done < self.total:
            self.last = now
            print(f"  {self.done:,} of {self.total:,} ({self.done / now:,.0f} a second)", file=sys.stderr, flush=True)


def decode_folder(folder: Path, files: Listing, size, channels, crop, filter,
                  sink=None) -> tuple[np.ndarray, list[list[str]]]:
    """Decode ``files`` of ``folder``: the stack ``(N, C, H, W)`` of the readable ones (or, with
    ``sink``, each chunk's stack handed to it and an empty stack returned) and the skipped files
    with their reasons. Without ``size`` every image must share the first one's size."""
    options = {"size": size, "channels": channels, "crop": crop, "filter": filter}
    kept: list[np.ndarray] = []
    skipped: list[list[str]] = []
    shape = None
    progress = _Progress(len(files), folder, cached=sink is not None)
    for names, (arrays, reasons) in _chunks(folder, [f[0] for f in files], options):
        good = []
        for name, a, why in zip(names, arrays, reasons):
            if a is None:
                skipped.append([name, why])
                continue
            if shape is None:
                shape = a.shape
            elif a.shape != shape:
                raise DataError(f"{folder / name} has size {a.shape[1:]} but the first image has {shape[1:]}; "
                                f"set data.size to resize them")
            good.append(a)
        if good:
            chunk = np.stack(good)
            if sink is None:
                kept.append(chunk)
            else:
                sink(chunk)
        progress.step(len(names))
    if skipped:
        warnings.warn(f"{folder}: skipped {len(skipped):,} unreadable image file(s), e.g. {skipped[0][0]} "
                      f"({skipped[0][1]}); the run's events.log names them all", RuntimeWarning, stacklevel=2)
    empty = np.zeros((0, *(shape or (channels, 1, 1))), dtype=np.uint8)
    if sink is not None or not kept:
        return empty, skipped
    return np.concatenate(kept), skipped


def image_cache_root() -> Path:
    """Where decoded folders go: ``$GAN_ARENA_IMAGE_CACHE``, else ``$GAN_ARENA_CACHE/images``
    (default ``~/.cache/gan-arena/images``): a big folder's cache can live on a scratch disk of its own."""
    own = os.environ.get("GAN_ARENA_IMAGE_CACHE")
    return Path(own).expanduser() if own else cache_dir("images")


class ImageCache:
    """A decoded folder (see the module docstring).

    Attributes:
        path: the cache's folder.
        shape: ``(C, H, W)`` of every image.
        count: how many images it holds.
        skipped: ``[name, reason]`` of every file that could not be read.
    """

    PIXELS = "pixels.u8"
    MANIFEST = "manifest.json"

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self.shape = tuple(int(v) for v in manifest["shape"])
        self.count = int(manifest["count"])
        self.skipped: list[list[str]] = manifest["skipped"]
        self.row_bytes = int(np.prod(self.shape))
        size = (self.path / self.PIXELS).stat().st_size
        if size != self.count * self.row_bytes:
            raise DataError(f"{self.path / self.PIXELS}: {size:,} bytes, not the {self.count:,} images of "
                            f"{self.shape} its manifest says; delete the folder {self.path} to decode again")
        self._fd: int | None = None

    @staticmethod
    def key(folder: Path, options: dict[str, Any]) -> str:
        text = json.dumps({"root": str(folder.resolve()), "version": VERSION, **options}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @classmethod
    def open_or_build(cls, folder: Path, size, channels, crop, filter, root: Path | None = None) -> ImageCache:
        """The cache of ``folder`` decoded with these options: opened where its manifest matches
        the folder's listing, else decoded (again)."""
        options = {"size": size, "channels": channels, "crop": crop, "filter": filter}
        path = (root or image_cache_root()) / cls.key(folder, options)
        files = listing(folder)
        manifest_path = path / cls.MANIFEST
        if manifest_path.is_file():
            try:
                old = read_json(manifest_path, dict, error=DataError)
            except DataError:
                old = None
            if old is not None and old.get("version") == VERSION and [tuple(f) for f in old.get("files", [])] == files:
                try:
                    return cls(path, old)
                except (DataError, OSError, KeyError, TypeError, ValueError):
                    pass  # damaged: decoded again below
            elif old is not None:
                warnings.warn(f"{folder} changed since its cache was made ({_changes(old.get('files', []), files)}); "
                              f"decoding it again", RuntimeWarning, stacklevel=3)
        return cls._build(folder, files, options, path)

    @classmethod
    def _build(cls, folder: Path, files: Listing, options: dict[str, Any], path: Path) -> ImageCache:
        if not files:
            raise DataError(f"image folder {folder} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot make the image cache {path} ({exc.strerror or exc}); set GAN_ARENA_CACHE to a "
                            f"writable folder, or data.cache=false") from None
        for stale in path.iterdir():  # a decode a crash cut short
            if is_temporary(stale.name):
                stale.unlink(missing_ok=True)
        if options["size"] is not None:
            need = len(files) * options["channels"] * options["size"][0] * options["size"][1]
            free = shutil.disk_usage(path).free
            if need > free:
                raise DataError(f"the cache of {folder} needs {human_bytes(need)} in {path}, and {human_bytes(free)} "
                                f"are free; free space, or set GAN_ARENA_CACHE to a roomier folder")
        started = time.perf_counter()
        tmp = temporary_name(path / cls.PIXELS)
        count = 0
        shape: tuple[int, ...] | None = None
        with open(tmp, "wb") as out:
            def sink(chunk: np.ndarray) -> None:
                nonlocal count, shape
                shape = chunk.shape[1:]
                out.write(np.ascontiguousarray(chunk).tobytes())
                count += chunk.shape[0]

            try:
                _, skipped = decode_folder(folder, files, sink=sink, **options)
            except BaseException:
                out.close()
                tmp.unlink(missing_ok=True)
                raise
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path / cls.PIXELS)
        seconds = time.perf_counter() - started
        manifest = {"version": VERSION, "root": str(folder.resolve()), **options, "shape": list(shape or ()),
                    "count": count, "files": [list(f) for f in files], "skipped": skipped,
                    "decoded_in_s": round(seconds, 3)}
        atomic_write(path / cls.MANIFEST, dump_json(manifest).encode())
        if len(files) >= PARALLEL_FROM:
            print(f"decoded {count:,} images in {seconds:.0f} s ({count / max(seconds, 1e-9):,.0f} a second) into "
                  f"{path} ({human_bytes(count * int(np.prod(shape or (0,))))})", file=sys.stderr, flush=True)
        return cls(path, manifest)

    def heldout(self, rows: np.ndarray) -> np.ndarray:
        """The images at ``rows`` (a split's fixed rows), from a file of their own in the cache,
        written the first time: a second start reads them in one sequential pass instead of one
        read per image."""
        rows = np.asarray(rows, dtype=np.int64)
        digest = hashlib.sha256(rows.tobytes()).hexdigest()[:16]
        path = self.path / f"rows-{digest}.u8"
        want = len(rows) * self.row_bytes
        try:
            if path.stat().st_size == want:
                with open(path, "rb") as f:
                    data = np.fromfile(f, dtype=np.uint8, count=want)
                if data.size == want:
                    return data.reshape(len(rows), *self.shape)
        except OSError:
            pass
        out = self.read(rows)
        try:
            atomic_write(path, out.tobytes())
        except OSError:  # a read-only cache still serves, one read per image
            pass
        return out

    def _handle(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path / self.PIXELS, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        return self._fd

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The images at ``rows`` (uint8 ``(len(rows), C, H, W)``), read in file order."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), *self.shape), dtype=np.uint8)
        flat = out.reshape(len(rows), -1)
        fd, size = self._handle(), self.row_bytes
        order = np.argsort(rows, kind="stable")
        i = 0
        while i < len(order):  # runs of consecutive rows are read at once
            j = i + 1
            while j < len(order) and rows[order[j]] == rows[order[j - 1]] + 1:
                j += 1
            data = os.pread(fd, size * (j - i), int(rows[order[i]]) * size)
            if len(data) != size * (j - i):
                raise DataError(f"{self.path / self.PIXELS}: shorter than its manifest says; delete {self.path} "
                                f"to decode the folder again")
            flat[order[i:j]] = np.frombuffer(data, dtype=np.uint8).reshape(j - i, size)
            i = j
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fd": None}  # a copy opens its own handle

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            try:
                os.close(self._fd)  # type: ignore[arg-type]
            except OSError:
                pass


def _changes(old: list, new: Listing) -> str:
    before = {f[0]: tuple(f) for f in old}
    after = {f[0]: f for f in new}
    added = len(after.keys() - before.keys())
    removed = len(before.keys() - after.keys())
    changed = sum(1 for k in after.keys() & before.keys() if after[k] != before[k])
    return f"{added:,} added, {removed:,} removed, {changed:,} changed"
