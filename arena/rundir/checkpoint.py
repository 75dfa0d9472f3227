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
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from arena.core import faults
from arena.core.errors import CheckpointError
from arena.core.files import atomic_write, dump_json, inside, read_bytes, read_json

__all__ = ["save_checkpoint", "load_checkpoint", "load_one", "list_checkpoints", "atomic_write"]


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
    atomic_write(folder / f"{_name(matching)}.json", dump_json(manifest, indent=1).encode())
    for old in list_checkpoints(folder)[:-keep_last]:
        (folder / old.with_suffix(".pt").name).unlink(missing_ok=True)
        old.unlink(missing_ok=True)
    return weights


MAX_CHECKPOINT_BYTES = 64 * 1024**3
"""The largest checkpoint file read (its manifest's ``bytes`` is checked against this first)."""

_MANIFEST = {"file": str, "sha256": str, "bytes": int, "matching": int}


def manifest_of(manifest_path: Path) -> dict[str, Any]:
    """A checkpoint's manifest, its fields checked."""
    manifest = read_json(manifest_path, dict, limit=1 << 20, error=CheckpointError)
    for key, kind in _MANIFEST.items():
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            raise CheckpointError(f"{manifest_path}: the manifest's {key!r} is missing or not {kind.__name__}")
    if not 0 <= manifest["bytes"] <= MAX_CHECKPOINT_BYTES or manifest["matching"] < 0:
        raise CheckpointError(f"{manifest_path}: the manifest's sizes are out of range")
    return manifest


def load_one(manifest_path: Path) -> dict[str, Any]:
    """The checkpoint of one manifest, checked against its checksum and loaded safely."""
    manifest_path = Path(manifest_path)
    manifest = manifest_of(manifest_path)
    weights = inside(manifest_path.parent, manifest["file"], "the manifest's file", error=CheckpointError)
    payload = read_bytes(weights, manifest["bytes"], "checkpoint", error=CheckpointError)
    if len(payload) != manifest["bytes"] or hashlib.sha256(payload).hexdigest() != manifest["sha256"]:
        raise CheckpointError(f"{weights}: checksum mismatch (truncated or corrupted)")
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise CheckpointError(f"{weights}: refused: it holds objects other than tensors and plain values, "
                                  f"which could run code; do not load it by other means") from None
        raise CheckpointError(f"{weights}: cannot be loaded ({str(exc).splitlines()[0][:200]})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{weights}: not a checkpoint of this project (a {type(state).__name__})")
    return state


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
