"""arena/distributed.py: a tournament on 2 CPU ranks (torchrun, gloo) equals it in one process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from arena.rundir import RunDir
from benchmarks.children import child_env
from tests.conftest import tiny_pool


def pool_config(write_config, mode: str):
    raw = tiny_pool(4, 4, {"type": "mlp", "hidden": [32, 32], "act": "leaky_relu"}, compute={"execution": mode},
                    schedule={"matchings": 6, "steps_per_match": 8, "batch_size": 32}, review={"every": 3, "samples": 200},
                    selection={"every": 3, "replace": 1}, checkpoint={"every": 3})
    return write_config(raw, f"{mode}.yaml")


def run(args: list[str], cwd) -> subprocess.CompletedProcess:
    env = child_env(OMP_NUM_THREADS="1")
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def metrics(path) -> list[dict]:
    timing = ("wall", "rounds_per_s", "elapsed")
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in timing} for row in rows]


@pytest.mark.parametrize("mode", ["auto", pytest.param("one-by-one", marks=pytest.mark.slow)])  # 11 s; auto covers the path
def test_two_cpu_ranks_give_the_results_of_one_process(tmp_path, write_config, mode):
    config = pool_config(write_config, mode)
    one, two = tmp_path / "one", tmp_path / "two"
    run([sys.executable, "-m", "arena", "run", str(config), "--out", str(one), "--quiet"], tmp_path)
    done = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                "-m", "arena", "run", str(config), "--out", str(two), "--quiet"], tmp_path)
    assert done.stdout.count("run finished") == 1, "only rank 0 reports"
    a, b = RunDir(one).load_checkpoint(), RunDir(two).load_checkpoint()
    assert a["matching"] == b["matching"] == 6 and a["rounds"] == b["rounds"] == 6 * 4 * 8
    for name, state in a["agents"].items():
        for key, x in state["net"].items():
            torch.testing.assert_close(x, b["agents"][name]["net"][key], atol=1e-6, rtol=1e-5, msg=f"{name} {key}")
        assert torch.equal(state["rng"], b["agents"][name]["rng"]), name
    assert a["stream"]["pos"] == b["stream"]["pos"] and torch.equal(a["stream"]["rng"], b["stream"]["rng"])
    for name in ("results.json", "lineage.json", "mixture.json"):
        assert json.loads((one / name).read_text()) == json.loads((two / name).read_text()), name
    assert metrics(one) == metrics(two)
    assert {p.name for p in tmp_path.iterdir()} == {f"{mode}.yaml", "one", "two"}, "other ranks write nothing"
