"""arena/checkpoint.py: atomic, checksummed, pruned, loaded safely."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from arena.core.errors import CheckpointError
from arena.rundir.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint


def state(i):
    return {"matching": i, "w": torch.full((3,), float(i)), "nested": {"lr": 0.1 * i, "betas": (0.5, 0.9)}}


def test_save_load_and_keep_last(tmp_path):
    for i in range(1, 6):
        save_checkpoint(tmp_path, state(i), i, keep_last=2)
    assert [p.stem for p in list_checkpoints(tmp_path)] == ["ckpt-00000004", "ckpt-00000005"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt-00000004.json", "ckpt-00000004.pt", "ckpt-00000005.json", "ckpt-00000005.pt"]
    loaded = load_checkpoint(tmp_path)
    assert loaded["matching"] == 5 and torch.equal(loaded["w"], torch.full((3,), 5.0))
    assert loaded["nested"]["betas"] == (0.5, 0.9)


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_damaged_newest_falls_back_to_the_previous_with_a_warning(tmp_path, damage):
    save_checkpoint(tmp_path, state(1), 1, keep_last=3)
    path = save_checkpoint(tmp_path, state(2), 2, keep_last=3)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        path.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    else:
        path.unlink()
    with pytest.warns(RuntimeWarning, match="skipping checkpoint"):
        loaded = load_checkpoint(tmp_path)
    assert loaded["matching"] == 1


def test_a_weights_file_without_manifest_does_not_count(tmp_path):
    save_checkpoint(tmp_path, state(1), 1, keep_last=3)
    torch.save(state(9), tmp_path / "ckpt-00000009.pt")  # crash before the manifest
    assert load_checkpoint(tmp_path)["matching"] == 1


def test_no_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint in"):
        load_checkpoint(tmp_path)


class Evil:
    def __reduce__(self):
        return (print, ("code ran",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_checkpoints_are_loaded_with_weights_only(tmp_path):
    """A checkpoint holding arbitrary pickled objects is refused, not executed."""
    folder = tmp_path
    payload = pickle.dumps({"x": Evil()})
    import hashlib

    (folder / "ckpt-00000001.pt").write_bytes(payload)
    (folder / "ckpt-00000001.json").write_text(json.dumps(
        {"file": "ckpt-00000001.pt", "sha256": hashlib.sha256(payload).hexdigest(), "bytes": len(payload), "matching": 1}))
    with pytest.warns(RuntimeWarning), pytest.raises(CheckpointError, match="refused: it holds objects") as caught:
        load_checkpoint(tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "weights_only=False" not in message, "one line, and never torch's advice to load it unsafely"
