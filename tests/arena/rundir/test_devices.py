"""Checkpoints that move between devices, tested on the CPU with a checkpoint made to look as if
a GPU had written it: every storage tagged ``cuda:0`` (as torch.save records a GPU tensor) and the
agents' random streams in the format of CUDA generators. The real round trip is in the GPU suite
(tests/arena/engine/test_cuda.py)."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
import torch

import arena
from arena.config import parse_config
from arena.rundir import RunDir
from tests.conftest import StopAt, run_cli, tiny_raw


def as_if_saved_on_a_gpu(run_dir) -> None:
    """Rewrite the newest checkpoint as a CUDA run would have written it."""
    rd = RunDir(run_dir)
    manifest_path = rd.checkpoints()[-1]
    manifest = json.loads(manifest_path.read_text())
    state = rd.load_checkpoint()
    for agent in state["agents"].values():
        agent["rng"] = torch.zeros(16, dtype=torch.uint8)  # a CUDA generator's state: seed and offset
    state["rng"]["cuda"] = torch.zeros(16, dtype=torch.uint8)
    buffer = io.BytesIO()
    original = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(state, buffer)
    finally:
        torch.serialization.location_tag = original
    payload = buffer.getvalue()
    (manifest_path.parent / manifest["file"]).write_bytes(payload)
    manifest.update(sha256=hashlib.sha256(payload).hexdigest(), bytes=len(payload))
    manifest_path.write_text(json.dumps(manifest))


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a GPU checkpoint on a machine without CUDA")
def test_a_gpu_checkpoint_is_sampled_evaluated_reported_and_resumed_on_the_cpu(tmp_path):
    run_dir = tmp_path / "run"
    arena.run(parse_config(tiny_raw(checkpoint={"every": 2})), out=run_dir, callbacks=[StopAt(2)])
    as_if_saved_on_a_gpu(run_dir)
    weights = RunDir(run_dir).checkpoints()[-1].with_suffix(".pt")
    with pytest.raises(RuntimeError, match="CUDA"):  # the simulation is real: a plain load needs a GPU
        torch.load(weights, weights_only=True)
    assert run_cli("sample", run_dir, "-n", 50, "-o", tmp_path / "x.npy") == 0
    assert run_cli("eval", run_dir, "-n", 100) == 0
    assert run_cli("report", run_dir) == 0
    with pytest.warns(RuntimeWarning, match="its random stream was saved on another kind of device"):
        assert run_cli("resume", run_dir, "--device", "cpu", "--quiet") == 0
    assert RunDir(run_dir).load_checkpoint()["matching"] == 6
