"""arena/compute.py: mixed precision, torch.compile and CUDA graphs fall back on a CPU with one
warning each, and the run is then the plain fp32 eager run; fp16 loss scaling per agent."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from arena.config import load_config, parse_config
from arena.engine.arena import build_arena
from arena.tournament.loop import Tournament
from games.checker import tiny_pair
from tests.conftest import tiny_raw


def run(compute: dict, prepare=None) -> tuple[Tournament, list[str]]:
    raw = tiny_raw(schedule={"matchings": 3, "steps_per_match": 4, "batch_size": 32}, review={"every": 3, "samples": 100})
    g, d = raw["agents"]
    g["count"] = d["count"] = 2
    d["net"] = {"type": "mlp", "hidden": [32, 32]}
    raw["compute"] = compute
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = Tournament(build_arena(parse_config(raw)))
        if prepare:
            prepare(t)
        t.run()
    return t, [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


def weights(t: Tournament) -> dict[str, torch.Tensor]:
    return {f"{a.name}.{k}": v for a in t.arena.agents.values() for k, v in a.net.state_dict().items()}


@pytest.fixture(scope="module")
def plain():
    """The weights after the plain fp32 eager run, by ``compute.execution``."""
    done: dict[str, dict[str, torch.Tensor]] = {}

    def get(matchings: str = "auto") -> dict[str, torch.Tensor]:
        if matchings not in done:
            t, messages = run({"execution": matchings})
            assert messages == []
            done[matchings] = weights(t)
        return done[matchings]

    return get


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize(("compute", "expected"), [
    ({"precision": "bf16"}, "compute.precision bf16 needs a CUDA device; running in fp32 on cpu"),
    ({"precision": "fp16", "execution": "one-by-one"}, "compute.precision fp16 needs a CUDA device; running in fp32 on cpu"),
    ({"cuda_graphs": True}, "compute.cuda_graphs needs a CUDA device; ignored on cpu"),
])
def test_gpu_options_fall_back_on_a_cpu_with_one_warning(plain, compute, expected):
    t, messages = run(compute)
    assert messages == [expected]
    assert t.compute.dtype is None and not t.compute.loss_scaling
    assert all(a.scaler is None and a.forward is a.net for a in t.arena.agents.values())
    assert_same(weights(t), plain(compute.get("execution", "auto")))


def test_a_failing_compiler_falls_back_to_eager_with_one_warning(plain, monkeypatch):
    def broken_compile(fn, mode=None, **options):
        def compiled(*args, **kwargs):
            raise RuntimeError("inductor: no C++ compiler found")
        return compiled

    monkeypatch.setattr(torch, "compile", broken_compile)
    t, messages = run({"compile": True, "execution": "one-by-one"})
    assert len(messages) == len(t.arena.agents), messages  # one per compiled network, each once
    assert all("torch.compile failed" in m and "no C++ compiler found" in m for m in messages)
    assert_same(weights(t), plain("one-by-one"))


def test_a_platform_without_the_compiler_falls_back_with_one_warning(plain, monkeypatch):
    def unavailable(fn, mode=None, **options):
        raise RuntimeError("Dynamo is not supported on this Python")

    monkeypatch.setattr(torch, "compile", unavailable)
    t, messages = run({"compile": True})
    assert messages and all("torch.compile is not available here" in m for m in messages)
    assert len(set(messages)) == len(messages)
    assert any("stacked" in m for m in messages) and any("network" in m for m in messages)
    assert_same(weights(t), plain())


def test_the_mixed_precision_path_trains_under_autocast():
    """The autocast path itself (what bf16 does on a GPU), forced on the CPU's bf16 autocast:
    training runs in it, batched and one by one, and lands near the fp32 result."""
    def force_bf16(t: Tournament) -> None:
        t.compute.dtype = torch.bfloat16

    for matchings in ("batched", "one-by-one"):
        t, _ = run({"execution": matchings}, force_bf16)
        ref, _ = run({"execution": matchings})
        a, b = weights(t), weights(ref)
        assert any(not torch.equal(a[k], b[k]) for k in a), "autocast changed nothing"
        for key in a:
            assert torch.isfinite(a[key]).all()
            torch.testing.assert_close(a[key].float(), b[key].float(), atol=0.05, rtol=0.05)


def test_loss_scaling_unscales_before_the_step_and_skips_non_finite_steps():
    g1, d1 = tiny_pair()
    g2, d2 = tiny_pair()
    d2.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    for d in (d1, d2):
        torch.manual_seed(0)  # the same dropout masks
        d.zero_grad()
        d.scaled(d(x).square().mean()).backward()
        d.step()
    for p, q in zip(d1.net.parameters(), d2.net.parameters()):
        torch.testing.assert_close(p, q)
    assert d1.steps == d2.steps == 1
    before = [p.detach().clone() for p in d2.net.parameters()]
    d2.zero_grad()
    d2.scaled(d2(x).mean() * float("inf")).backward()
    d2.step()
    assert all(torch.equal(p, b) for p, b in zip(d2.net.parameters(), before)), "a non-finite step is skipped"
    assert d2.scaler.get_scale() == 512.0
    state = d2.state_dict()
    assert state["scaler"]["scale"] == 512.0
    _, d3 = tiny_pair()
    d3.scaler = torch.amp.GradScaler("cpu")
    d3.load_state_dict(state)
    assert d3.scaler.get_scale() == 512.0


# ---------------------------------------------------------------------------- the automatic choice
def choice(compute: dict, device: str = "cpu", rounds: int = 20_000):
    from arena.engine.compute import Compute, Workload

    before = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    try:  # a CUDA device's choice is made without touching the device; only torch's TF32 switches move
        c = Compute(parse_config(tiny_raw(compute=compute)).compute, torch.device(device), Workload(rounds))
        return c, torch.get_float32_matmul_precision()
    finally:
        torch.set_float32_matmul_precision(before[0])
        torch.backends.cudnn.allow_tf32 = before[1]


@pytest.mark.parametrize(("compute", "device", "rounds", "fused", "networks", "precision", "why"), [
    ({}, "cpu", 20_000, None, False, "fp32", "repay the fused round's compile"),
    ({}, "cpu", 11_999, False, False, "fp32", "repays itself from 12,000"),
    ({}, "cpu", 0, False, False, "fp32", "no stacked pair matches"),
    ({"execution": "one-by-one"}, "cpu", 20_000, False, False, "fp32", "no stacked pair matches"),
    ({"compile": False}, "cpu", 20_000, False, False, "fp32", "compile: false"),
    ({"compile": True}, "cpu", 0, None, None, "fp32", "compile: true"),
    ({}, "mps", 20_000, False, False, "fp32", "auto on mps"),
    ({}, "cuda", 0, "reduce-overhead", False, "tf32", "CUDA graphs"),
    ({"precision": "fp32"}, "cuda", 0, "reduce-overhead", False, "fp32", "CUDA graphs"),
    ({"compile": False}, "cuda", 0, False, False, "tf32", "compile: false"),
    ({"cuda_graphs": False}, "cuda", 0, False, False, "tf32", "auto on cuda: eager"),
    ({"cuda_graphs": False, "compile": True}, "cuda", 0, None, None, "tf32", "compile: true"),
    ({"execution": "one-by-one"}, "cuda", 0, False, False, "tf32", "execution one-by-one"),
    ({"precision": "fp16"}, "cuda", 0, False, False, "fp16", "fp16 loss scaling"),
])
def test_auto_chooses_the_path_by_device_and_workload_and_explicit_settings_win(compute, device, rounds, fused,
                                                                                networks, precision, why):
    c, matmul = choice(compute, device, rounds)
    assert (c.compile_mode, c.network_mode, c.precision) == (fused, networks, precision)
    assert why in c.describe() and c.record()["reason"] == c.reason
    if device == "cuda":  # TF32 for fp32 products unless strict fp32 is asked for
        assert matmul == ("highest" if precision == "fp32" else "high")


def test_the_choice_is_printed_once_and_recorded_in_run_json(tmp_path, write_config, capsys, monkeypatch):
    from arena.cli.commands import main
    from arena.rundir import RunDir

    monkeypatch.setattr("arena.engine.compute.CPU_COMPILE_MIN_ROUNDS", 10**9)  # keep the tiny run eager and fast
    cfg = write_config(tiny_raw(schedule={"matchings": 2, "steps_per_match": 2}))
    assert main(["run", str(cfg), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    info = RunDir(tmp_path / "run").read_json("run.json", expect=dict)
    assert info["compute"] == {"fused_round": False, "cuda_graphs": False, "networks_compiled": False,
                               "precision": "fp32", "reason": info["compute"]["reason"]}
    assert "eager" in info["compute"]["reason"]


def test_auto_on_a_cpu_falls_back_from_a_failing_compiler_with_one_warning(plain, monkeypatch):
    """A run long enough for ``auto`` to compile its fused round, with a compiler that fails: one
    warning, and the weights are the eager run's, bit for bit."""
    def broken_compile(fn, mode=None, **options):
        def compiled(*args, **kwargs):
            raise RuntimeError("inductor: no C++ compiler found")
        return compiled

    eager = plain()  # played before the compiler breaks (alone in a process, it would play it first)
    monkeypatch.setattr(torch, "compile", broken_compile)
    monkeypatch.setattr("arena.engine.compute.CPU_COMPILE_MIN_ROUNDS", 1)
    t, messages = run({})
    assert t.compute.compile_mode is None and t.compute.network_mode is False  # chosen: the fused round
    assert len(messages) == 1 and "torch.compile failed" in messages[0] and "stacked" in messages[0], messages
    assert_same(weights(t), eager)


@pytest.mark.parametrize(("name", "fused"), [("stacked_mnist_population", None), ("digits", False)])
def test_auto_on_a_cpu_compiles_the_fused_round_of_convolutional_agents_for_a_long_run(name, fused):
    """PacGAN's convolutional agents stack, and their fused round compiled played a round at 47 ms
    against 88 eager (benchmarks/RESULTS.md, 2026-12-05 afternoon): the population config's
    19,200 stacked pair-rounds compile it, networks eager; the digits pair's 4,000 do not."""
    config = load_config(Path(__file__).parents[3] / "configs" / f"{name}.yaml", ["device=cpu"])
    compute = Tournament(build_arena(config)).compute
    assert (compute.compile_mode, compute.network_mode) == (fused, False), compute.describe()
