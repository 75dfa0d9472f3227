"""The GPU suite (`make test-gpu`): every CUDA path on a real GPU. Each test is marked ``gpu`` and
skipped, with the reason, where CUDA is not available.

Covered: every compute option (bf16, fp16 with loss scaling, compile, CUDA graphs) running with no
fallback warning; the compiled fused round (compile, CUDA graphs) equal to the eager one; CUDA graphs with a network called twice before its backward pass; batched matchings on CUDA equal to one by one; an fp16 step whose gradients
overflow skipped and the scaler's state checkpointed; divergence rollback restoring the CUDA
random state of the arena's own device (also on cuda:1 where two GPUs exist); stacked cross-play
on CUDA equal to judging one by one; torchrun with one NCCL rank; a run on CUDA killed and resumed
equal to an uninterrupted one; checkpoints moving between CUDA and the CPU both ways.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import arena
import arena.api
from agents import draw_samples
from arena.config import parse_config
from arena.core.seeding import seed_global
from arena.engine.arena import build_arena
from arena.engine.divergence import DivergenceGuard
from arena.rundir import RunDir
from arena.tournament.crossplay import payoff_matrix
from arena.tournament.loop import Tournament
from benchmarks.children import child_env
from tests.conftest import StopAt, arena_subprocess, checkpoint_weights, records, run_cli, tiny_pool

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the GPU suite runs only on a GPU"),
]


def pool(device: str = "cuda", compute: dict | None = None, **changes) -> dict:
    """A 2 x 2 on ``device`` in strict fp32 (no TF32: the paths compared agree to float rounding),
    the other compute options as ``compute`` sets them (default ``auto``)."""
    raw = tiny_pool(2, 2, device=device, schedule={"matchings": 4, "steps_per_match": 5, "batch_size": 32}, review={"every": 2, "samples": 200})
    raw["agents"][1]["net"] = {"type": "mlp", "hidden": [32, 32]}  # no dropout: one-by-one and stacked agree
    raw["compute"] = {"precision": "fp32", **(compute or {})}
    raw.update(changes)
    return raw


def train_with_warnings(raw: dict) -> tuple[Tournament, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = Tournament(build_arena(parse_config(raw)))
        t.run()
    return t, [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("compute", [
    {"precision": "bf16"},
    {"precision": "fp16", "execution": "one-by-one"},
    {"compile": True},
    {"cuda_graphs": True},
    {"compile": True, "execution": "batched"},
], ids=["bf16", "fp16", "compile", "cuda-graphs", "compile-batched"])
def test_every_compute_option_runs_on_cuda_without_falling_back(compute):
    t, messages = train_with_warnings(pool(compute=compute))
    assert messages == [], messages
    assert t.compute.device.type == "cuda" and t.completed == 4
    for agent in t.arena.agents.values():
        assert all(torch.isfinite(p).all() for p in agent.net.parameters())
    if compute.get("precision") == "fp16":
        assert all(a.scaler is not None for a in t.arena.agents.values())


def without_batch_norm(raw: dict) -> dict:
    """The pool without the generators' BatchNorm: the bias of a layer before a BatchNorm has a
    gradient of exactly zero in theory and of rounding noise in practice, which Adam turns into
    steps of +-lr whose signs differ between any two orders of summation."""
    raw["agents"][0]["net"] = {**raw["agents"][0]["net"], "norm": "none"}
    return raw


def test_cuda_graphs_with_a_network_called_twice_before_its_backward_pass():
    """A discriminator judges the real and the generated batch before its backward pass, and
    sampling keeps earlier chunks while drawing more: with the networks themselves replayed as
    CUDA graphs the second call overwrote the first one's output (seen on an H200). The networks
    are compiled without graphs (one warning when every match is played one by one), the
    stacked update functions with them."""
    t, messages = train_with_warnings(pool(compute={"compile": True, "cuda_graphs": True, "execution": "one-by-one"}))
    assert len(messages) == 1 and "stacks none" in messages[0], messages
    assert t.compute.network_mode is None  # compiled, never replayed as graphs
    assert t.completed == 4
    g = t.arena.generators[0]
    first, both = draw_samples(g, 100, 0), draw_samples(g, 300, 0, batch=100)
    assert torch.isfinite(both).all() and torch.equal(both[:100], first)
    # eight stacked matches: the update functions' outputs were overwritten by the next replay
    # before the round statistics were read (seen on an H200), until they were copied at once
    raw = pool(compute={"cuda_graphs": True, "execution": "batched"})
    for agent in raw["agents"]:
        agent["count"] = 8
    stacked, messages = train_with_warnings(raw)
    assert messages == [] and stacked.completed == 4
    for agent in stacked.arena.agents.values():
        assert all(torch.isfinite(p).all() for p in agent.net.parameters())


def test_batched_matchings_on_cuda_equal_one_by_one():
    one = Tournament(build_arena(parse_config(without_batch_norm(pool(compute={"execution": "one-by-one"})))))
    eager = {"execution": "batched", "compile": False}
    stacked = Tournament(build_arena(parse_config(without_batch_norm(pool(compute=eager)))))
    one.run()
    stacked.run()
    for name, agent in one.arena.agents.items():
        for key, value in agent.net.state_dict().items():
            torch.testing.assert_close(stacked.arena.agent(name).net.state_dict()[key], value, atol=1e-4, rtol=1e-3,
                                       msg=f"{name}.{key}")


@pytest.mark.parametrize("compute", [{"compile": True}, {"cuda_graphs": True}], ids=["compile", "cuda-graphs"])
def test_the_compiled_fused_round_on_cuda_equals_the_eager_one(compute):
    """With compile or CUDA graphs the whole stacked round is one compiled graph (its tensors at
    static addresses for the graphs, kept from match to match): no fallback, and the weights of
    the eager stacked run within float rounding."""
    eager = Tournament(build_arena(parse_config(without_batch_norm(pool(compute={"execution": "batched", "compile": False})))))
    eager.run()
    fused, messages = train_with_warnings(without_batch_norm(pool(compute={"execution": "batched", **compute})))
    assert messages == [], messages
    (kernels,) = fused.runner.kernels.values()
    assert kernels.fused is not None and not kernels.fused.failed and kernels._slots
    for name, agent in eager.arena.agents.items():
        for key, value in agent.net.state_dict().items():
            torch.testing.assert_close(fused.arena.agent(name).net.state_dict()[key], value, atol=1e-4, rtol=1e-3,
                                       msg=f"{name}.{key}")


def test_the_default_on_cuda_is_the_fused_round_as_cuda_graphs_with_tf32():
    """No compute flags at all: the stacked matches run as the fused round replayed as CUDA
    graphs, the networks eagerly, fp32 products on the TF32 units; no fallback warning; the
    choice recorded in run.json."""
    raw = pool()
    raw["compute"] = {}
    try:
        t, messages = train_with_warnings(raw)
        assert messages == [], messages
        assert (t.compute.compile_mode, t.compute.network_mode, t.compute.precision) == ("reduce-overhead", False, "tf32")
        assert torch.get_float32_matmul_precision() == "high" and torch.backends.cudnn.allow_tf32
        (kernels,) = t.runner.kernels.values()
        assert kernels.fused is not None and not kernels.fused.failed
        assert all(a.forward is a.net for a in t.arena.agents.values())
    finally:
        torch.set_float32_matmul_precision("highest")


def test_an_fp16_step_whose_gradients_overflow_is_skipped_and_the_scaler_checkpointed(tmp_path):
    raw = pool(compute={"precision": "fp16", "execution": "one-by-one"}, schedule={"matchings": 2, "steps_per_match": 3})
    run = arena.api.Run.create(parse_config(raw), tmp_path / "run")
    g = run.arena.generators[0]
    before = {k: v.clone() for k, v in g.net.named_parameters()}  # not the BatchNorm statistics sampling moves
    scale = g.scaler.get_scale()
    g.zero_grad()
    loss = g.sample(8).sum() * torch.tensor(float("inf"), device="cuda")
    g.scaled(loss).backward()
    g.step()  # gradients are inf: the step is skipped, the scale is lowered
    for key, value in g.net.named_parameters():
        assert torch.equal(value, before[key]), key
    assert g.scaler.get_scale() < scale
    run.play()
    state = RunDir(tmp_path / "run").load_checkpoint()
    assert "scaler" in state["agents"]["g0"] and state["agents"]["g0"]["scaler"]["scale"] > 0


@pytest.mark.parametrize("index", [0, 1])
def test_divergence_rollback_restores_the_cuda_random_state_of_the_arenas_device(index):
    if index >= torch.cuda.device_count():
        pytest.skip(f"needs {index + 1} GPUs, this machine has {torch.cuda.device_count()}")
    device = torch.device("cuda", index)
    arena_ = build_arena(parse_config(pool(device=f"cuda:{index}")))
    players = (arena_.generators[0], arena_.discriminators[0])
    guard = DivergenceGuard(1e3, 0.5, 3, device=device)
    torch.cuda.set_device(0)  # another device is current: the guard must still use the arena's
    snap = guard.snapshot(players)
    expected = torch.rand(4, device=device)
    guard.restore(players, snap)
    assert torch.equal(torch.rand(4, device=device), expected)


def test_stacked_cross_play_on_cuda_equals_judging_one_by_one():
    a = build_arena(parse_config(pool()))
    gen = torch.Generator(device="cuda").manual_seed(0)
    samples = {g.name: g.sample(300, gen).detach() for g in a.generators}
    real = a.data.test[:300]
    stacked = payoff_matrix(a.generators, a.discriminators, samples, real, a.game_for, stack=True)
    alone = payoff_matrix(a.generators, a.discriminators, samples, real, a.game_for, stack=False)
    assert np.allclose(np.array(stacked, dtype=float), np.array(alone, dtype=float), atol=1e-3)


def test_torchrun_with_one_nccl_rank(tmp_path, write_config):
    cfg = write_config(pool(device="auto"))
    one = tmp_path / "one"
    done = arena_subprocess("run", cfg, "--out", one, "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ranked = tmp_path / "ranked"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1",
                           "-m", "arena", "run", str(cfg), "--out", str(ranked), "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600,
                          env=child_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = checkpoint_weights(one), checkpoint_weights(ranked)
    for name in a:
        for key in a[name]:
            torch.testing.assert_close(a[name][key], b[name][key], atol=1e-5, rtol=1e-4)


def test_a_cuda_run_killed_and_resumed_equals_an_uninterrupted_one(tmp_path, write_config):
    # one by one: a fault inside a round makes the killed run play its matches one by one, and
    # stacked matches agree with those only to rounding
    cfg = write_config(pool(compute={"execution": "one-by-one"}, schedule={"matchings": 6, "steps_per_match": 25},
                            checkpoint={"every": 2}))
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert run_cli("run", cfg, "--out", full, "--quiet") == 0
    done = arena_subprocess("run", cfg, "--out", killed, "--quiet", cwd=tmp_path, env={"ARENA_FAULT": "round:130"})
    assert done.returncode == -9, done.stderr
    assert run_cli("resume", killed, "--quiet") == 0
    a, b = checkpoint_weights(full), checkpoint_weights(killed)
    for name in a:
        for key in a[name]:
            assert torch.equal(a[name][key], b[name][key]), (name, key)
    assert records(full) == records(killed)


def test_checkpoints_move_between_cuda_and_the_cpu(tmp_path):
    """Trained on the GPU: sampled, evaluated, reported and resumed on the CPU; trained on the
    CPU: resumed on the GPU."""
    gpu_run = tmp_path / "gpu"
    arena.run(parse_config(pool()), out=gpu_run, callbacks=[StopAt(2)])
    assert run_cli("sample", gpu_run, "-n", 50, "--device", "cpu", "-o", tmp_path / "x.npy") == 0
    assert run_cli("eval", gpu_run, "-n", 100, "--device", "cpu") == 0
    assert run_cli("report", gpu_run) == 0
    assert run_cli("resume", gpu_run, "--device", "cpu", "--quiet") == 0
    cpu_run = tmp_path / "cpu"
    arena.run(parse_config(pool(device="cpu")), out=cpu_run, callbacks=[StopAt(2)])
    assert run_cli("resume", cpu_run, "--device", "cuda", "--quiet") == 0
    assert RunDir(cpu_run).load_checkpoint()["matching"] == 4


def test_the_global_cuda_random_state_is_seeded_and_checkpointed():
    seed_global(3)
    first = torch.rand(3, device="cuda")
    seed_global(3)
    assert torch.equal(torch.rand(3, device="cuda"), first)
    a = build_arena(parse_config(pool()))
    state = copy.deepcopy(a.state_dict())
    assert "cuda" in state["rng"]
