"""Atomic files and checkpoints: temporary file, fsync, rename; a checkpoint's manifest, with
its checksum, is written last.

A checkpoint counts only once its manifest exists and the checksum matches, so a crash at
any point leaves the previous good checkpoint usable. Loading uses
``torch.load(weights_only=True)``: a checkpoint cannot run code. The folder and the file
names belong to :class:`arena.rundir.RunDir`, which calls these functions.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from arena.core import faults
from arena.core.errors import CheckpointError

__all__ = ["save_checkpoint", "load_checkpoint", "load_one", "list_checkpoints", "atomic_write"]


def atomic_write(path: Path, data: bytes, before_rename: Callable[[], None] | None = None) -> None:
    """Write ``data`` to ``path`` so that a reader sees either the old file or the whole new one.

    ``before_rename`` is called between the write and the rename (a fault-injection point).
    """
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if before_rename is not None:
        before_rename()
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _name(matching: int) -> str:
    return f"ckpt-{matching:08d}"


def list_checkpoints(folder: Path) -> list[Path]:
    """Manifests in ``folder``, oldest first."""
    folder = Path(folder)
    return sorted(folder.glob("ckpt-*.json")) if folder.is_dir() else []


def save_checkpoint(folder: Path, state: dict[str, Any], matching: int, keep_last: int) -> Path:
    """Save ``state`` in ``folder`` as the checkpoint after ``matching`` matchings; prune to ``keep_last``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    weights = folder / f"{_name(matching)}.pt"
    atomic_write(weights, payload, before_rename=lambda: faults.hit("checkpoint-write"))
    faults.hit("checkpoint-manifest")
    manifest = {
        "file": weights.name,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "bytes": len(payload),
        "matching": matching,
        "time": time.time(),
    }
    atomic_write(folder / f"{_name(matching)}.json", json.dumps(manifest, indent=1).encode())
    for old in list_checkpoints(folder)[:-keep_last]:
        (folder / old.with_suffix(".pt").name).unlink(missing_ok=True)
        old.unlink(missing_ok=True)
    return weights


def load_one(manifest_path: Path) -> dict[str, Any]:
    """The checkpoint of one manifest, checked against its checksum and loaded safely."""
    try:
        manifest = json.loads(manifest_path.read_text())
        weights = manifest_path.with_name(manifest["file"])
        payload = weights.read_bytes()
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{manifest_path.name}: unreadable ({exc})") from None
    if len(payload) != manifest["bytes"] or hashlib.sha256(payload).hexdigest() != manifest["sha256"]:
        raise CheckpointError(f"{weights.name}: checksum mismatch (truncated or corrupted)")
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types
        raise CheckpointError(f"{weights.name}: cannot be loaded safely ({exc})") from None


def load_checkpoint(folder: Path) -> dict[str, Any]:
    """The newest checkpoint in ``folder`` that passes its checksum; older ones are tried with a warning.

    Raises:
        CheckpointError: no checkpoint in ``folder`` is usable.
    """
    manifests = list_checkpoints(folder)
    if not manifests:
        raise CheckpointError(f"no checkpoint in {folder}")
    problems = []
    for manifest in reversed(manifests):
        try:
            state = load_one(manifest)
        except CheckpointError as exc:
            problems.append(str(exc))
            warnings.warn(f"skipping checkpoint: {exc}", RuntimeWarning, stacklevel=2)
            continue
        return state
    raise CheckpointError(f"no usable checkpoint in {folder}: " + "; ".join(problems))
