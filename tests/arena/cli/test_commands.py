"""arena/cli/: the command line on tiny budgets: run, resume, sample, check, list, user errors
(exit 2), Ctrl-C and SIGKILL at any point, then resume."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from arena.rundir import RunDir
from benchmarks.children import child_env
from tests.conftest import ROOT, arena_subprocess, checkpoint_weights, records, run_cli, tiny_raw, write_mnist


def test_run_writes_a_complete_run_directory(tmp_path, write_config, capsys):
    cfg = write_config(tiny_raw(review={"pictures": True}))
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
    assert [p.stem for p in RunDir(out).checkpoints()] == [f"ckpt-{i:08d}" for i in (2, 4, 6)]
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
    for manifest in RunDir(cut).checkpoints()[1:]:
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


def test_image_run_writes_sample_grids(tmp_path, write_config):
    raw = tiny_raw(data={"source": "digits"}, schedule={"matchings": 2, "steps_per_match": 3},
                   review={"every": 2, "grid": 16, "pictures": True})
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


def test_a_rejected_config_writes_nothing(tmp_path, write_config, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    raw = tiny_raw()
    raw["agents"][0]["net"]["hidden"] = [0]
    assert run_cli("run", write_config(raw), "--quiet") == 2
    assert not (tmp_path / "runs").exists()


def test_python_dash_m_arena_exits_2_on_a_user_error_without_traceback(tmp_path):
    env = child_env()
    done = subprocess.run([sys.executable, "-m", "arena", "check", str(tmp_path / "missing.yaml")],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"arena check: error: {tmp_path / 'missing.yaml'}: no such config file"


def test_subprocess_run_with_progress_display(tmp_path, write_config):
    """The real entry point end to end, progress display on, output not a terminal."""
    env = child_env()
    cfg = write_config(tiny_raw(schedule={"matchings": 3}, review={"every": 3, "pictures": True}))
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "arena", "run", str(cfg), "--out", str(out)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"run finished: {out}" in done.stdout
    assert "matching 3: g: modes" in done.stderr and "checkpoint after matching 3" in done.stderr
    assert (out / "samples" / "g-000003.png").is_file()


def test_classic_gan_runs_on_full_mnist_with_one_set(tmp_path, monkeypatch, capsys):
    """`--set data.source=mnist` reads IDX files from data/mnist (written here by the test)."""
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    write_mnist(tmp_path / "data" / "mnist", n_train=200, n_test=50)
    monkeypatch.chdir(tmp_path)
    config = ROOT / "configs" / "classic_gan.yaml"
    assert run_cli("check", config, "--set", "data.source=mnist") == 0
    assert "mnist: images of shape (1, 28, 28) (train 200, test 50)" in capsys.readouterr().out


@pytest.mark.parametrize("name, code", [pytest.param("SIGINT", 130, marks=pytest.mark.slow), ("SIGTERM", 143)])
def test_a_stop_signal_checkpoints_and_resume_finishes_the_same_run(tmp_path, write_config, name, code):
    """SIGINT (Ctrl-C) and SIGTERM (kill, docker stop, a scheduler): the current matching finishes,
    a checkpoint is written, exit 130 / 143 with the resume command; `arena resume` then ends with
    every matching logged once and the same weights (samples) as an uninterrupted run."""
    import signal
    import time

    env = child_env()
    raw = tiny_raw(schedule={"matchings": 150, "steps_per_match": 5}, checkpoint={"every": 1000, "keep_last": 2},
                   review={"every": 1000}, log={"every": 5})
    cfg = write_config(raw)
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "arena", "run", str(cfg), "--out", str(out), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    deadline = time.time() + 60
    while not (out / "metrics.jsonl").exists() and time.time() < deadline:  # training has started
        time.sleep(0.05)
    proc.send_signal(getattr(signal, name))
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert f"continue with: arena resume {out}" in stderr
    assert "Traceback" not in stderr
    manifests = RunDir(out).checkpoints()
    assert len(manifests) == 1
    stopped_at = json.loads(manifests[0].read_text())["matching"]
    assert 0 < stopped_at < 150
    assert run_cli("resume", out, "--quiet") == 0
    logged = [r["matching"] for r in RunDir(out).metrics.read() if r["kind"] == "train"]
    assert logged == sorted(set(logged)) and logged[-1] == 150, "every logged matching once, in order, to the end"
    full = tmp_path / "full"
    assert run_cli("run", cfg, "--out", full, "--quiet") == 0
    assert run_cli("sample", out, "-n", 50, "-o", tmp_path / "a.npy") == 0
    assert run_cli("sample", full, "-n", 50, "-o", tmp_path / "b.npy") == 0
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


KILL_CONFIG = tiny_raw(schedule={"matchings": 6, "steps_per_match": 25}, review={"every": 2})


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The kill tests' config and its uninterrupted run, made once for all of them."""
    root = tmp_path_factory.mktemp("uninterrupted")
    cfg = root / "config.yaml"
    cfg.write_text(yaml.safe_dump(KILL_CONFIG, sort_keys=False))
    full = root / "full"
    assert run_cli("run", cfg, "--out", full, "--quiet") == 0
    assert run_cli("sample", full, "-n", 100, "--seed", 3, "-o", root / "full.npy") == 0
    return cfg, full, np.load(root / "full.npy")


@pytest.mark.parametrize("point, count", [
    ("round", 130),  # inside a round of matching 6, after the checkpoint at 4
    ("round", 30),  # inside matching 2, before the first checkpoint, after matching 1's log line
    ("checkpoint-write", 2), ("checkpoint-manifest", 2), ("review", 2),
], ids=["round", "before-first-checkpoint", "checkpoint-write", "checkpoint-manifest", "review"])
def test_sigkill_at_any_point_then_resume_equals_an_uninterrupted_run(tmp_path, uninterrupted, point, count):
    """SIGKILL inside a round, before the first checkpoint, during a checkpoint write (before the
    rename, and before the manifest) and during evaluation: `arena resume` completes (starting
    over where no checkpoint was written, dropping the partial log), and the final weights,
    `arena sample --seed` output and metrics equal an uninterrupted run's."""
    cfg, full, full_samples = uninterrupted
    killed = tmp_path / "killed"
    done = arena_subprocess("run", cfg, "--out", killed, "--quiet", cwd=tmp_path, env={"ARENA_FAULT": f"{point}:{count}"})
    assert done.returncode == -9, (done.returncode, done.stderr)
    if point == "round" and count == 30:
        assert not RunDir(killed).checkpoints() and len(records(killed)) == 1, "killed before the first checkpoint"
    assert run_cli("resume", killed, "--quiet") == 0
    a, b = RunDir(killed).load_checkpoint(), RunDir(full).load_checkpoint()
    assert a["matching"] == b["matching"] == 6
    for name in ("g", "d"):
        for key, value in a["agents"][name]["net"].items():
            assert torch.equal(value, b["agents"][name]["net"][key]), (name, key)
    assert run_cli("sample", killed, "-n", 100, "--seed", 3, "-o", tmp_path / "a.npy") == 0
    assert np.array_equal(np.load(tmp_path / "a.npy"), full_samples)
    assert records(killed) == records(full)


def test_sigkill_inside_a_stacked_round_then_resume_equals_an_uninterrupted_run(tmp_path):
    """The fault plan fires inside the stacked rounds users run (a 2 x 2 tournament, its pairs
    batched), not in a one-by-one path of its own."""
    raw = tiny_raw(schedule={"matchings": 4, "steps_per_match": 10}, review={"every": 2}, compute={"execution": "batched"})
    for spec in raw["agents"]:
        spec["count"] = 2
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert run_cli("run", cfg, "--out", tmp_path / "full", "--quiet") == 0
    assert all(r["batched"] == 1.0 for r in records(tmp_path / "full") if r["kind"] == "train"), "the pairs were stacked"
    killed = tmp_path / "killed"
    done = arena_subprocess("run", cfg, "--out", killed, "--quiet", cwd=tmp_path, env={"ARENA_FAULT": "round:35"})
    assert done.returncode == -9, (done.returncode, done.stderr)  # the 35th stacked round: inside matching 4
    assert run_cli("resume", killed, "--quiet") == 0
    assert records(killed) == records(tmp_path / "full")
    full = checkpoint_weights(tmp_path / "full")
    assert all(torch.equal(v, full[a][k]) for a, state in checkpoint_weights(killed).items() for k, v in state.items())


def test_a_run_directory_in_use_is_refused_and_a_stale_lock_taken_over(tmp_path, uninterrupted, capsys):
    """While one process trains a run directory, `arena resume` (or a second `arena run --out`)
    there is refused with exit 2, naming the holder's pid; a lock left by a killed process is
    stale and is taken over."""
    _, full, _ = uninterrupted
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(full, copy)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from arena.rundir import RunDir; lock = RunDir(sys.argv[1]).lock().acquire(); "
        "print('locked', flush=True); time.sleep(60)"), str(copy)],
        stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert run_cli("resume", copy, "--quiet") == 2
        err = capsys.readouterr().err
        assert err.strip() == f"arena resume: error: {copy} is in use by process {holder.pid}; wait for it to finish or stop it, then try again"
    finally:
        holder.kill()
        holder.wait()
    assert (copy / ".lock").read_text().split()[0] == str(holder.pid), "the killed holder's lock is left behind"
    with pytest.warns(RuntimeWarning, match=f"took over the lock of process {holder.pid}, which no longer runs"):
        assert run_cli("resume", copy, "--quiet") == 0
    assert "already complete" in capsys.readouterr().out
    assert (copy / ".lock").read_text() == "", "released"


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        run_cli("--version")
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == "arena 0.1.0"


def test_public_api_exports_resolve():
    """Every name in ``__all__`` of the three packages imports, and is what its group says it is."""
    import inspect

    import agents
    import arena
    import games
    from arena.core.registry import Registry

    for package in (arena, agents, games):
        for name in package.__all__:
            obj = getattr(package, name)
            assert inspect.isclass(obj) or inspect.isfunction(obj) or isinstance(obj, (Registry, type(agents.LOGIT_SPACE))), \
                f"{package.__name__}.{name} is a {type(obj).__name__}"
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert obj.__module__.split(".")[0] == package.__name__, f"{package.__name__}.{name} comes from {obj.__module__}"
    assert issubclass(arena.ConfigError, arena.ArenaError) and issubclass(arena.RunDirError, arena.ArenaError)
    assert inspect.signature(arena.run).parameters.keys() >= {"config", "out", "device", "callbacks"}
    assert {"sample", "evaluate", "leaderboard", "config"} <= set(dir(arena.Run))
    assert games.make("gan-v0").id == "gan-v0" and "mlp" in agents.networks


