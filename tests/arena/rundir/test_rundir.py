"""arena/rundir/: RunDir owns every file of a run (names, formats, atomic writes), its lock, and
the writers that fill it during a run."""

from __future__ import annotations

import csv
import json
import os

import pytest

from arena.config import parse_config
from arena.core.errors import RunDirError
from arena.output.record import OutputRecord
from arena.rundir import RunDir
from arena.rundir.checkpoint import atomic_write
from tests.conftest import tiny_raw


def test_create_writes_the_resolved_config_and_run_info(tmp_path):
    config = parse_config(tiny_raw())
    run_dir = RunDir.create(config, tmp_path / "run", "cpu")
    assert sorted(p.name for p in run_dir.path.iterdir()) == ["config.yaml", "run.json", "samples"]
    assert run_dir.config() == config
    info = json.loads((run_dir.path / "run.json").read_text())
    assert info["device"] == "cpu" and info["config_source"] == "<config>"
    with pytest.raises(RunDirError, match="already exists and is not empty"):
        RunDir.create(config, tmp_path / "run", "cpu")
    with pytest.raises(RunDirError, match="is not a run directory"):
        RunDir(tmp_path)
    second = RunDir.create(config, None, "cpu", root=tmp_path / "runs")
    third = RunDir.create(config, None, "cpu", root=tmp_path / "runs")
    assert second.path != third.path and second.path.name.startswith("tiny-")


def test_standings_files_and_their_readers(tmp_path):
    run_dir = RunDir.create(parse_config(tiny_raw()), tmp_path / "run", "cpu")
    with pytest.raises(RunDirError, match="has no leaderboard.json yet"):
        run_dir.leaderboard()
    rows = [{"rank": 1, "agent": "g", "role": "generator", "rating": 1510.0, "status": "active"},
            {"rank": 1, "agent": "d", "role": "discriminator", "rating": 1490.0, "modes": 8, "status": "active"}]
    assert run_dir.output() is None
    output = OutputRecord(["g"], [1.0], 3, {"modes": 8})
    run_dir.write_standings(rows, {"matching": 3, "rounds": 30, "system": "elo"}, [{"matching": 3}], [], output)
    board = run_dir.leaderboard()
    assert board["matching"] == 3 and board["rows"] == rows and board["mixture"] == output.as_dict()
    assert run_dir.output() == output
    assert run_dir.results() == [{"matching": 3}]
    table = list(csv.DictReader((run_dir.path / "leaderboard.csv").open()))
    assert [r["agent"] for r in table] == ["g", "d"] and table[1]["modes"] == "8" and table[0]["modes"] == ""
    assert json.loads((run_dir.path / "mixture.json").read_text()) == output.as_dict()
    run_dir.merge_evaluations({"g": {"modes": 8}})
    run_dir.merge_evaluations({"mixture": {"modes": 7}, "g": {"modes": 6}})
    assert run_dir.evaluations() == {"g": {"modes": 6}, "mixture": {"modes": 7}}
    assert run_dir.picture("g", 12) == run_dir.path / "samples" / "g-000012.png"


def test_atomic_write_leaves_the_old_file_when_interrupted_before_the_rename(tmp_path):
    path = tmp_path / "results.json"
    atomic_write(path, b"old")

    class Killed(Exception):
        pass

    def die():
        raise Killed

    with pytest.raises(Killed):
        atomic_write(path, b"new", before_rename=die)
    assert path.read_bytes() == b"old"
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new"


def test_the_lock_refuses_a_second_holder_and_names_the_first(tmp_path):
    run_dir = RunDir.create(parse_config(tiny_raw()), tmp_path / "run", "cpu")
    first = run_dir.lock().acquire()
    try:
        with pytest.raises(RunDirError, match=f"is in use by process {os.getpid()}"):
            run_dir.lock().acquire()
    finally:
        first.release()
    with run_dir.lock().held() as again:
        assert (run_dir.path / ".lock").read_text().split()[0] == str(os.getpid())
        assert again.took_over is None
    assert (run_dir.path / ".lock").read_text() == ""


def test_a_stale_lock_is_taken_over(tmp_path):
    """A lock file naming a process that no longer runs (and holding no flock) is stale."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    run_dir = RunDir.create(parse_config(tiny_raw()), tmp_path / "run", "cpu")
    (run_dir.path / ".lock").write_text(f"{pid} somehost\n")
    with pytest.warns(RuntimeWarning, match=f"took over the lock of process {pid}"):
        lock = run_dir.lock().acquire()
    assert lock.took_over == pid
    lock.release()


def test_the_metrics_log_is_cut_back_atomically(tmp_path):
    run_dir = RunDir.create(parse_config(tiny_raw()), tmp_path / "run", "cpu")
    log = run_dir.metrics
    for i in range(5):
        log.write({"kind": "train", "matching": i})
    with open(log.path, "a") as f:
        f.write('{"kind": "tr')  # a line cut by a crash
    assert RunDir(run_dir.path).metrics.lines == 6
    log = RunDir(run_dir.path).metrics
    log.truncate(3)
    assert [r["matching"] for r in log.read()] == [0, 1, 2] and log.lines == 3
    log.truncate(0)
    assert log.read() == [] and log.lines == 0
