"""The arena CLI on tiny budgets: run, resume, sample, check, list, and user errors (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from arena.rundir.checkpoint import list_checkpoints
from arena.cli import main
from tests.conftest import tiny_raw

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def run_cli(*args: str) -> int:
    return main([str(a) for a in args])


def test_run_writes_a_complete_run_directory(tmp_path, write_config, capsys):
    cfg = write_config(tiny_raw())
    out = tmp_path / "run"
    assert run_cli("run", cfg, "--out", out, "--quiet") == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["schedule"]["matchings"] == 6
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in lines if r["kind"] == "train"]
    assert len(train) == 6
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "wall", "rounds_per_s"):
        assert all(np.isfinite(r[key]) for r in train), key
    assert [r["matching"] for r in lines if r["kind"] == "eval"] == [3, 6]
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["g-000003.png", "g-000006.png"]
    assert [p.stem for p in list_checkpoints(out)] == [f"ckpt-{i:08d}" for i in (2, 4, 6)]
    assert str(out) in capsys.readouterr().out


def test_run_never_reuses_an_existing_directory(tmp_path, write_config, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert run_cli("run", write_config(tiny_raw()), "--out", out, "--quiet") == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_default_run_directory_is_new_under_runs(tmp_path, write_config, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = write_config(tiny_raw(schedule={"matchings": 1}))
    assert run_cli("run", cfg, "--quiet") == 0
    assert run_cli("run", cfg, "--quiet") == 0
    dirs = sorted((tmp_path / "runs").iterdir())
    assert len(dirs) == 2 and all(d.name.startswith("tiny-") for d in dirs)


def test_resume_sample_and_reproducible_samples(tmp_path, write_config, capsys):
    cfg = write_config(tiny_raw())
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert run_cli("run", cfg, "--out", full, "--quiet") == 0
    assert run_cli("run", cfg, "--out", cut, "--quiet", "--set", "schedule.matchings=6") == 0
    # simulate a crash after matching 2: drop the later checkpoints
    for manifest in list_checkpoints(cut)[1:]:
        manifest.with_suffix(".pt").unlink()
        manifest.unlink()
    assert run_cli("resume", cut, "--quiet") == 0
    assert run_cli("resume", cut, "--quiet") == 0
    assert "already complete" in capsys.readouterr().out
    a, b, c = tmp_path / "a.npy", tmp_path / "b.npy", tmp_path / "c.npy"
    assert run_cli("sample", full, "-n", 300, "--seed", 5, "-o", a) == 0
    assert run_cli("sample", cut, "-n", 300, "--seed", 5, "-o", b) == 0
    assert run_cli("sample", full, "-n", 300, "--seed", 6, "-o", c) == 0
    xa, xb, xc = np.load(a), np.load(b), np.load(c)
    assert xa.shape == (300, 2) and xa.dtype == np.float32
    assert np.array_equal(xa, xb), "resumed run must sample exactly like the uninterrupted one"
    assert not np.array_equal(xa, xc)
    png = tmp_path / "s.png"
    assert run_cli("sample", full, "--agent", "g", "-n", 100, "-o", png) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sample_errors(tmp_path, write_config, capsys):
    out = tmp_path / "run"
    assert run_cli("run", write_config(tiny_raw(schedule={"matchings": 1})), "--out", out, "--quiet") == 0
    assert run_cli("sample", out, "--agent", "d", "-n", 5, "-o", tmp_path / "x.npy") == 2
    assert "d is a discriminator" in capsys.readouterr().err
    assert run_cli("sample", out, "--agent", "zz", "-n", 5, "-o", tmp_path / "x.npy") == 2
    assert "no agent named 'zz'" in capsys.readouterr().err
    assert run_cli("sample", out, "-n", 5, "-o", tmp_path / "x.txt") == 2
    assert "expected a .npy or .png file" in capsys.readouterr().err
    assert run_cli("sample", tmp_path / "nope", "-n", 5, "-o", tmp_path / "x.npy") == 2
    assert "is not a run directory" in capsys.readouterr().err


def test_image_run_writes_sample_grids(tmp_path, write_config):
    raw = tiny_raw(data={"source": "digits"}, schedule={"matchings": 2, "steps_per_match": 3}, eval={"every": 2, "grid": 16})
    raw["data"] = {"source": "digits"}
    raw["agents"][0]["latent"] = {"dist": "normal", "dim": 8}
    raw["agents"][0]["net"] = {"type": "dcgan", "width": 4}
    raw["agents"][1]["net"] = {"type": "dcgan", "width": 4}
    out = tmp_path / "run"
    assert run_cli("run", write_config(raw), "--out", out, "--quiet") == 0
    from PIL import Image

    with Image.open(out / "samples" / "g-000002.png") as im:
        assert im.width >= 256 and im.mode == "L"
    assert run_cli("sample", out, "-n", 7, "-o", tmp_path / "d.npy") == 0
    x = np.load(tmp_path / "d.npy")
    assert x.shape == (7, 1, 8, 8) and x.min() >= 0 and x.max() <= 1


@pytest.mark.parametrize("config", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_passes_check(config, capsys):
    assert run_cli("check", config) == 0
    assert ": ok: " in capsys.readouterr().out


def test_check_reports_a_bad_config_in_one_line_with_exit_2(write_config, capsys):
    raw = tiny_raw()
    raw["agents"][1]["optim"]["lr"] = "fast"
    path = write_config(raw)
    assert run_cli("check", path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{path}:" in err and "agents[1].optim.lr: expected a positive number, got 'fast'" in err


def test_a_rejected_config_writes_nothing(tmp_path, write_config, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    raw = tiny_raw()
    raw["agents"][0]["net"]["hidden"] = [0]
    assert run_cli("run", write_config(raw), "--quiet") == 2
    assert not (tmp_path / "runs").exists()


def test_list_shows_the_registries(capsys):
    assert run_cli("list") == 0
    out = capsys.readouterr().out
    for word in ("gan-v0", "minimax-v0", "wgan-gp-v0", "hinge-v0", "lsgan-v0", "maxout-mlp", "dcgan",
                 "ring8", "grid25", "mnist5k", "digits", "npy", "images", "adam", "sgd", "rmsprop", "uniform"):
        assert word in out, word


def test_python_dash_m_arena_exits_2_on_a_user_error_without_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "arena", "check", str(tmp_path / "missing.yaml")],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"arena check: error: {tmp_path / 'missing.yaml'}: no such config file"


def test_subprocess_run_with_progress_display(tmp_path, write_config):
    """The real entry point end to end, progress display on, output not a terminal."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cfg = write_config(tiny_raw(schedule={"matchings": 3}, eval={"every": 3}))
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "arena", "run", str(cfg), "--out", str(out)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"run finished: {out}" in done.stdout
    assert "matching 3: g: modes" in done.stderr and "checkpoint after matching 3" in done.stderr
    assert (out / "samples" / "g-000003.png").is_file()


def test_classic_gan_runs_on_full_mnist_with_one_set(tmp_path, monkeypatch, capsys):
    """`--set data.source=mnist` reads IDX files from data/mnist (written here by the test)."""
    from tests.arena.test_data import _write_mnist

    (tmp_path / "data" / "mnist").mkdir(parents=True)
    _write_mnist(tmp_path / "data" / "mnist", n_train=200, n_test=50)
    monkeypatch.chdir(tmp_path)
    config = ROOT / "configs" / "classic_gan.yaml"
    assert run_cli("check", config, "--set", "data.source=mnist") == 0
    assert "mnist: images of shape (1, 28, 28) (train 200, test 50)" in capsys.readouterr().out


def test_ctrl_c_checkpoints_and_resume_finishes_the_same_run(tmp_path, write_config):
    """SIGINT: the current matching finishes, a checkpoint is written, exit 130 with the resume command;
    `arena resume` then ends with the same samples as an uninterrupted run."""
    import signal
    import time

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    raw = tiny_raw(schedule={"matchings": 400, "steps_per_match": 5}, checkpoint={"every": 1000, "keep_last": 2},
                   eval={"every": 1000}, log={"every": 50})
    cfg = write_config(raw)
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "arena", "run", str(cfg), "--out", str(out), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    deadline = time.time() + 60
    while not (out / "metrics.jsonl").exists() and time.time() < deadline:  # training has started
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert f"continue with: arena resume {out}" in stderr
    manifests = list_checkpoints(out)
    assert len(manifests) == 1
    stopped_at = json.loads(manifests[0].read_text())["matching"]
    assert 0 < stopped_at < 400
    assert run_cli("resume", out, "--quiet") == 0
    full = tmp_path / "full"
    assert run_cli("run", cfg, "--out", full, "--quiet") == 0
    assert run_cli("sample", out, "-n", 50, "-o", tmp_path / "a.npy") == 0
    assert run_cli("sample", full, "-n", 50, "-o", tmp_path / "b.npy") == 0
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_public_api_exports_resolve():
    import agents
    import arena
    import games

    for package in (arena, agents, games):
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{package.__name__}.{name}"


@pytest.mark.parametrize("point, count", [("round", 130), ("checkpoint-write", 2), ("checkpoint-manifest", 2), ("eval", 2)])
def test_sigkill_at_any_point_then_resume_equals_an_uninterrupted_run(tmp_path, write_config, point, count):
    """SIGKILL inside a round, during a checkpoint write (before the rename, and before the
    manifest) and during evaluation: `arena resume` completes, and the final weights and
    `arena sample --seed` output equal an uninterrupted run's."""
    import torch

    from arena.rundir.checkpoint import load_checkpoint

    cfg = write_config(tiny_raw(schedule={"matchings": 6, "steps_per_match": 25}, eval={"every": 2}))
    killed, full = tmp_path / "killed", tmp_path / "full"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ARENA_FAULT": f"{point}:{count}"}
    done = subprocess.run([sys.executable, "-m", "arena", "run", str(cfg), "--out", str(killed), "--quiet"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == -9, (done.returncode, done.stderr)
    assert run_cli("resume", killed, "--quiet") == 0
    assert run_cli("run", cfg, "--out", full, "--quiet") == 0
    a, b = load_checkpoint(killed), load_checkpoint(full)
    assert a["matching"] == b["matching"] == 6
    for name in ("g", "d"):
        for key, value in a["agents"][name]["net"].items():
            assert torch.equal(value, b["agents"][name]["net"][key]), (name, key)
    assert run_cli("sample", killed, "-n", 100, "--seed", 3, "-o", tmp_path / "a.npy") == 0
    assert run_cli("sample", full, "-n", 100, "--seed", 3, "-o", tmp_path / "b.npy") == 0
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("wall", "rounds_per_s", "elapsed")} for r in rows]
    lines = lambda d: [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
    assert strip(lines(killed)) == strip(lines(full))
