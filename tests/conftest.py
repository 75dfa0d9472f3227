"""Shared fixtures and helpers: tiny configs that train in a second, and ways to run and compare them."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one test process per core (pytest-xdist). Torch's threads beyond one per
    # worker only contend (on 2 cores: 2 workers x 1 thread 198 s, 2 x 2 threads 700 s), and the
    # runs the tests start as child processes inherit the one thread, so that they compute what the
    # worker computes in-process. numpy's BLAS keeps its default: its thread count moves the last
    # digits of the held-out mixture weights that the golden runs record.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(os.cpu_count() or 1))
    os.environ["OMP_NUM_THREADS"] = "1"

import atexit
import shutil
import tempfile

# Image folders decode into a cache (arena/data/imagecache.py): the tests' go to a folder of the
# test process's own, never the user's ~/.cache, and child processes inherit it.
if "GAN_ARENA_IMAGE_CACHE" not in os.environ:
    os.environ["GAN_ARENA_IMAGE_CACHE"] = tempfile.mkdtemp(prefix="gan-arena-test-images-")
    atexit.register(shutil.rmtree, os.environ["GAN_ARENA_IMAGE_CACHE"], True)

import pytest
import torch
import yaml

from benchmarks.children import child_env

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)  # where torch was imported before this file

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
TIMING = {"wall", "rounds_per_s", "elapsed"}
PATHS_RTOL, PATHS_ATOL = 1e-9, 1e-10
"""How far two computation paths (stacked against one by one, fused against eager, a team against
its discriminators one by one) may end apart when both run in float64 (:func:`float64`). The paths
reorder sums: a sum of n terms reordered moves by at most n * u * (the sum of their magnitudes),
with float64's unit roundoff u = 1.1e-16; the largest reductions here (a convolution's weight
gradient over a batch of 16 at 14 x 14 pixels and 3 x 3 taps) have n < 3e4, so below 3.3e-12 of the
magnitudes a step, compounded over the few rounds a test plays. 1e-9 relative and 1e-10 absolute
(on weights and moments of order 1e-3 to 1) leave a margin of 500x over the largest seen (1.7e-13
with the default kernels, 5e-14 on AVX2), and stay far below float32's epsilon (1.2e-7): a step
computed in float32 on one path fails."""
"""Wall-clock fields of metrics.jsonl, which differ between any two runs."""

TINY = {
    "name": "tiny",
    "seed": 0,
    "device": "cpu",
    "data": {"source": "ring8", "train_size": 2000, "test_size": 500},
    "game": {"id": "gan-v0"},
    "agents": [
        {
            "name": "g",
            "role": "generator",
            "latent": {"dist": "normal", "dim": 2},
            "net": {"type": "mlp", "hidden": [32, 32], "norm": "batch"},
            "optim": {"type": "adam", "lr": 1e-3, "betas": [0.5, 0.999]},
        },
        {
            "name": "d",
            "role": "discriminator",
            "net": {"type": "mlp", "hidden": [32, 32], "dropout": 0.1},
            "optim": {"type": "adam", "lr": 1e-3, "betas": [0.5, 0.999]},
        },
    ],
    "schedule": {"matchings": 6, "steps_per_match": 10, "batch_size": 32},
    "review": {"every": 3, "samples": 200, "pictures": False},
    "checkpoint": {"every": 2, "keep_last": 5},
    "log": {"report": False},
}


def tiny_tournament(**changes) -> dict:
    """A 3 x 3 tournament of the tiny agents: 8 matchings, a review every 2 (300 samples), selection
    every 4 and a mixture of the top 2; sections in ``changes`` replace the defaults."""
    raw = tiny_pool(3, 3, name="tourney", schedule={"matchings": 8, "steps_per_match": 5}, review={"every": 2, "samples": 300},
                    selection={"every": 4, "replace": 1, "mutate": {"lr": 0.3, "betas": 0.02}},
                    mixture={"top": 2, "weights": "oracle-modes"})
    raw.update(copy.deepcopy(changes))
    return raw


class NormalCandidates:
    """A stand-in generator of candidates from N(0, ``std``^2) in one dimension."""

    name, device, training = "g", torch.device("cpu"), False

    def __init__(self, std: float = 1.0) -> None:
        self.std = std

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def sample(self, n, generator=None):
        return self.std * torch.randn(n, 1, generator=generator)


class NetJudge:
    """A stand-in discriminator in eval mode that judges with ``net`` (one logit per sample)."""

    name, pack, training, device = "d", 1, False, torch.device("cpu")
    action_space = type("Space", (), {"shape": (1,)})()

    def __init__(self, net: torch.nn.Module, name: str = "d") -> None:
        self.net, self.name = net, name

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def __call__(self, x):
        return self.net(x)


def tiny_raw(**changes) -> dict:
    """A copy of the tiny config with top-level sections replaced or updated."""
    raw = copy.deepcopy(TINY)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key].update(value)
        else:
            raw[key] = value
    return raw


def tiny_pool(generators: int = 2, discriminators: int = 2, net: dict | None = None, **changes) -> dict:
    """The tiny config with ``generators`` x ``discriminators`` agents (``g0..``, ``d0..``; one
    agent keeps its plain name), every one with ``net`` where it is given; the other sections as
    :func:`tiny_raw` takes them."""
    raw = tiny_raw(**changes)
    g, d = (dict(spec) for spec in raw["agents"][:2])
    g["count"], d["count"] = generators, discriminators
    if net is not None:
        g["net"], d["net"] = dict(net), dict(net)
    raw["agents"] = [g, d, *raw["agents"][2:]]
    return raw


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a config mapping (or YAML text) to a file and return its path."""

    def write(raw: dict | str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False))
        return path

    return write


# ----------------------------------------------------------------------------- running


@pytest.fixture(scope="session")
def classifier_cache(tmp_path_factory) -> Path:
    """One cache of feature classifiers for the session (each data set's is trained once), away
    from the user's ``~/.cache``; set ``GAN_ARENA_CACHE`` to it."""
    return tmp_path_factory.mktemp("classifiers")


def shared_temp(tmp_path_factory, name: str) -> Path:
    """A folder ``name`` that every process of this test session shares: under pytest-xdist the
    workers' temporary folders sit side by side in one parent (pytest-xdist's own recipe)."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture(scope="session")
def shipped_runs(tmp_path_factory):
    """``get(name)``: the run directory and fingerprint of a short run of ``configs/<name>.yaml``
    (the budgets of tests/golden.py), made once per test session on first use, by whichever
    worker asks first (the others wait on its lock), and shared by the tests that need one (golden
    numbers, ``arena eval`` on every shipped config, a report of each kind of data). The
    fingerprint is taken when the run ends, so a test that later writes into the directory (an
    eval.json) changes no other's numbers; a test that changes the run works on a copy."""
    from filelock import FileLock

    from tests import golden

    root = shared_temp(tmp_path_factory, "shipped")

    def get(name: str) -> tuple[Path, dict]:
        out, done = root / name, root / f"{name}.fingerprint.json"
        with FileLock(str(root / f"{name}.lock")):
            if not done.is_file():
                shutil.rmtree(out, ignore_errors=True)  # a worker that died halfway
                done.write_text(json.dumps(golden.run_one(name, out)))
        return out, json.loads(done.read_text())

    return get


def run_cli(*args) -> int:
    """``arena ARGS...`` in this process; the exit code."""
    from arena.cli import main

    return main([str(a) for a in args])


def arena_subprocess(*args, cwd: Path, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m arena ARGS...`` in a fresh process (the real entry point)."""
    full_env = child_env(**(env or {}))
    return subprocess.run([sys.executable, "-m", "arena", *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)


def train(raw: dict, run_dir: Path | None = None, callbacks=()):
    """Train the config ``raw``; with ``run_dir`` through the Python API (writing the directory),
    without it in memory. Returns the tournament."""
    import arena
    from arena.config import parse_config
    from arena.engine.arena import build_arena
    from arena.tournament.loop import Tournament

    config = parse_config(raw)
    if run_dir is not None:
        return arena.run(config, out=run_dir, callbacks=callbacks).tournament
    tournament = Tournament(build_arena(config), callbacks)
    tournament.run()
    return tournament


def sample_metrics(tournament, generator=None, n: int = 2500, seed: int = 0) -> dict[str, float]:
    """The data's metrics of ``n`` fresh samples of a generator (default: the first) of a tournament."""
    from agents import draw_samples
    from arena.evaluation.measure import sample_metrics

    arena = tournament.arena
    return sample_metrics(arena.data, draw_samples(generator or arena.generators[0], n, seed))


def write_mnist(root: Path, n_train: int = 30, n_test: int = 10, gz: bool = True) -> None:
    """Small random MNIST IDX files (images only) in ``root``: MNIST tests never download."""
    import numpy as np

    from arena.data.files import write_idx

    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    write_idx(root / f"train-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8))
    write_idx(root / f"t10k-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8))


class StopAt:
    """A callback that asks the loop to stop (as the first Ctrl-C does) at the checkpoint after
    ``n`` matchings."""

    def __new__(cls, n: int):
        import arena

        class _StopAt(arena.Callback):
            def on_checkpoint(self, tournament):
                if tournament.completed == n:
                    tournament.request_stop()

        return _StopAt()


@contextlib.contextmanager
def float64():
    """Build and play in float64 for the duration (torch's default dtype; the data sources keep
    their splits in it). Tests that compare two computation paths (stacked against one by one,
    fused against eager, a team against its discriminators one by one) prove the algorithm here,
    where the kernels' rounding (which differs with AVX2, AVX-512, ARM and the thread count) is
    far below :data:`PATHS_RTOL`."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def train_both_ways(raw: dict, modes=("one-by-one", "batched")) -> list:
    """The tournament of ``raw`` trained with each ``compute.execution`` mode, in memory, in
    float64 (:func:`float64`: compare them within PATHS_RTOL and PATHS_ATOL)."""
    out = []
    for mode in modes:
        r = copy.deepcopy(raw)
        r["compute"] = {**r.get("compute", {}), "execution": mode}
        with float64():
            out.append(train(r))
    return out


def keep_checkpoints_until(run_dir: Path, matching: int) -> None:
    """Delete the checkpoints written after ``matching`` matchings: the run directory as a run
    killed then would have left it."""
    from arena.rundir import RunDir

    for manifest in RunDir(run_dir).checkpoints():
        if int(manifest.stem.split("-")[1]) > matching:
            manifest.with_suffix(".pt").unlink()
            manifest.unlink()


# ----------------------------------------------------------------------------- comparing


def weights(tournament) -> dict[str, torch.Tensor]:
    """Every agent's network state (weights and buffers), by ``agent.key``."""
    out = {}
    for name, agent in tournament.arena.agents.items():
        for key, value in agent.net.state_dict().items():
            out[f"{name}.{key}"] = value.clone()
    return out


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def records(run_dir: Path) -> list[dict]:
    """The records of ``run_dir``'s metrics.jsonl without their wall-clock fields."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def checkpoint_weights(run_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    """Each agent's network state in the newest checkpoint of ``run_dir``."""
    from arena.rundir import RunDir

    state = RunDir(run_dir).load_checkpoint()
    return {name: s["net"] for name, s in state["agents"].items()}
