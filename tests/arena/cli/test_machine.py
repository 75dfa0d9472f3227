"""When the machine fails the tool: operating-system errors in one line, nothing partial left
behind, the real memory limit, stale temporary files, strict JSON, comparisons refused, broken
terminals and data too small. Real faults where the platform allows them (a small tmpfs in a
private mount namespace, ``RLIMIT_FSIZE``, ``RLIMIT_AS``, ``/dev/full``, a closed pipe, ``chmod``
with the capabilities dropped), injected ones (``ARENA_FAULT=write:N:ERRNO``) where it does not.
One fast test of each class runs by default; the ones that train under a fault are ``slow``."""

from __future__ import annotations

import errno
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from arena.core.oserrors import describe
from tests.conftest import arena_subprocess, records, run_cli, tiny_raw, train

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def one_line(stderr: str, command: str) -> str:
    """The single error line of ``stderr``: no traceback, nothing else."""
    lines = [line for line in stderr.splitlines() if line.strip() and ": warning: " not in line]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr, stderr
    assert lines[0].startswith(f"arena {command}: error: "), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished tiny run (read by the tests that only read it)."""
    path = tmp_path_factory.mktemp("machine") / "run"
    train(tiny_raw(), path)
    return path


# ----------------------------------------------------------------------------- one line for each cause


@pytest.mark.parametrize("code, cause, fix", [
    (errno.ENOSPC, "no space is left", "free space"),
    (errno.EDQUOT, "quota", "quota"),
    (errno.EFBIG, "file-size limit", "ulimit -f"),
    (errno.EACCES, "permission denied", "writable"),
    (errno.EPERM, "not permitted", "writable"),
    (errno.EMFILE, "too many open files", "ulimit -n"),
    (errno.ENFILE, "too many open files", "file-max"),
    (errno.ENAMETOOLONG, "longer than the file system allows", "shorter"),
    (errno.EROFS, "read-only", "writable folder"),
    (errno.EIO, "input/output error", "dmesg"),
])
def test_each_operating_system_error_is_told_as_file_cause_and_fix(code, cause, fix):
    line = describe(OSError(code, os.strerror(code), "/runs/x/metrics.jsonl"))
    assert line.startswith("/runs/x/metrics.jsonl: ") and cause in line and fix in line, line
    assert "\n" not in line


def test_a_vanished_folder_is_named_and_a_training_run_says_how_to_resume(tmp_path):
    from arena.core import oserrors

    gone = tmp_path / "run"
    line = describe(OSError(errno.ENOENT, "No such file or directory", str(gone / "checkpoints" / "x.pt")))
    assert f"the folder {gone} no longer exists" in line, line
    oserrors.training(tmp_path / "my run")
    try:
        line = describe(OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "my run" / "a.json")))
    finally:
        oserrors.training(None)
    assert line.endswith("free space, then `arena resume '" + str(tmp_path / "my run") + "'` "
                         "(nothing past the last checkpoint is lost)"), line


@pytest.mark.parametrize("code", ["ENOSPC", "EIO", "EMFILE", "EACCES"])
def test_an_injected_write_error_ends_a_reading_command_in_one_line_with_exit_2(finished, tmp_path, monkeypatch, capsys, code):
    """`arena report` on a disk that fails its write: exit 2, one line naming the report and the
    cause; nothing partial; ARENA_DEBUG=1 shows the traceback instead."""
    monkeypatch.setenv("ARENA_FAULT", f"write:1:{code}")
    out = tmp_path / "r.html"
    assert run_cli("report", finished, "-o", out) == 2
    line = one_line(capsys.readouterr().err, "report")
    assert str(out) in line and describe(OSError(getattr(errno, code), "", str(out))).split(": ", 1)[1] in line
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("ARENA_DEBUG", "1")
    with pytest.raises(OSError):
        run_cli("report", finished, "-o", out)


def test_a_run_stopped_by_a_write_error_resumes_with_every_matching_logged_once(tmp_path, write_config):
    """A full disk at the 12th write of a training run (inside its first checkpoint): one line
    saying to free space and resume; `arena resume` then completes it, its log equal to an
    uninterrupted run's."""
    cfg = write_config(tiny_raw())
    assert run_cli("run", cfg, "--out", tmp_path / "full", "--quiet") == 0
    stopped = tmp_path / "stopped"
    done = arena_subprocess("run", cfg, "--out", stopped, "--quiet", cwd=tmp_path, env={"ARENA_FAULT": "write:12:ENOSPC"})
    assert done.returncode == 2, done.stderr
    line = one_line(done.stderr, "run")
    assert "no space is left on the device" in line and f"arena resume {stopped}" in line, line
    assert run_cli("resume", stopped, "--quiet") == 0
    assert records(stopped) == records(tmp_path / "full")


def test_a_full_standard_output_is_one_line_and_a_closed_pipe_ends_quietly(tmp_path):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "arena", "list"], stdout=full, stderr=subprocess.PIPE, text=True,
                              cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert "<standard output>: no space is left on the device" in one_line(done.stderr, "list")
    child = subprocess.Popen([sys.executable, "-m", "arena", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             cwd=tmp_path)
    child.stdout.close()  # the reader goes away before anything is written (`arena list | head -0`)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 141 and err == b"", err


def test_a_file_size_limit_leaves_no_partial_output(finished, tmp_path):
    """RLIMIT_FSIZE (a real EFBIG): `arena sample -o x.npy` of 40,000 points ends in one line
    naming the file and the limit, and leaves neither x.npy nor a temporary file."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run([sys.executable, "-m", "arena", "sample", str(finished), "-n", "40000", "-o", str(out / "x.npy")],
                          capture_output=True, text=True, preexec_fn=limit, cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr
    line = one_line(done.stderr, "sample")
    assert str(out / "x.npy") in line and "file-size limit" in line, line
    assert list(out.iterdir()) == []


def test_a_name_longer_than_the_file_system_allows_is_one_line(tmp_path, write_config, capsys):
    cfg = write_config(tiny_raw())
    assert run_cli("run", cfg, "--out", tmp_path / ("x" * 300), "--quiet") == 2
    assert "longer than the file system allows" in one_line(capsys.readouterr().err, "run")


def test_a_deleted_working_folder_is_one_line(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    child = subprocess.run(f"cd {gone} && rmdir {gone} && exec {sys.executable} -m arena list", shell=True,
                           capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    assert child.returncode == 2
    assert "working folder no longer exists" in child.stderr and "Traceback" not in child.stderr


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _unshare_works(), reason="needs `unshare -m` (root, or user namespaces) for a private tmpfs")
def test_a_real_full_disk_during_training_stops_in_one_line_and_resumes(tmp_path, write_config):
    """A 300 KB tmpfs in a private mount namespace fills while the run trains: one line, exit 2;
    the run directory copied out, `arena resume` completes it as an uninterrupted run."""
    cfg = write_config(tiny_raw(schedule={"matchings": 40}, checkpoint={"every": 2, "keep_last": 40}))
    assert run_cli("run", cfg, "--out", tmp_path / "full", "--quiet") == 0
    mount = tmp_path / "disk"
    mount.mkdir()
    script = (f"mount -t tmpfs -o size=300k tmpfs {mount} && cd {tmp_path} && "
              f"{sys.executable} -m arena run {cfg} --out {mount}/run --quiet; echo $? > {tmp_path}/code; "
              f"cp -r {mount}/run {tmp_path}/copied")
    done = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    assert (tmp_path / "code").read_text().strip() == "2", done.stderr
    line = one_line(done.stderr, "run")
    assert "no space is left on the device" in line and "arena resume" in line, line
    assert run_cli("resume", tmp_path / "copied", "--quiet") == 0
    assert records(tmp_path / "copied") == records(tmp_path / "full")


def _drop_capabilities() -> list[str] | None:
    """A command prefix that runs without root's capabilities (so that chmod binds), or None."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv"):
        return ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"]
    return None


@pytest.mark.slow
@pytest.mark.skipif(_drop_capabilities() is None, reason="root without setpriv: chmod does not bind")
def test_a_read_only_run_directory_and_working_folder_are_one_line(finished, tmp_path):
    """`arena eval` on a run directory without write permission, and `arena run` in a folder
    without write permission (its default runs/): each one line naming the folder."""
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    run.chmod(0o555)
    try:
        done = subprocess.run([*_drop_capabilities(), sys.executable, "-m", "arena", "eval", str(run), "-n", "200"],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert done.returncode == 2, done.stderr
        assert "permission denied" in one_line(done.stderr, "eval")
        (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(tiny_raw(), sort_keys=False))
        tmp_path.chmod(0o555)
        done = subprocess.run([*_drop_capabilities(), sys.executable, "-m", "arena", "run", "cfg.yaml", "--quiet"],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert done.returncode == 2, done.stderr
        assert "runs: permission denied" in one_line(done.stderr, "run")
    finally:
        tmp_path.chmod(0o755)
        run.chmod(0o755)


@pytest.mark.slow
def test_a_run_directory_deleted_while_training_is_one_line(tmp_path, write_config):
    cfg = write_config(tiny_raw(schedule={"matchings": 400}))
    run = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-m", "arena", "run", str(cfg), "--out", str(run), "--quiet"],
                             stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").exists() and time.time() < deadline:
        time.sleep(0.2)
    shutil.rmtree(run)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 2, err
    assert f"the folder {run} no longer exists" in one_line(err, "run")


# ----------------------------------------------------------------------------- the memory limit


def test_the_memory_budget_reads_cgroup_v1_and_v2_limits_up_the_hierarchy(tmp_path):
    from arena.core.resources import cgroup_limit

    v2 = tmp_path / "v2"
    (v2 / "job" / "step").mkdir(parents=True)
    (v2 / "job" / "memory.max").write_text("2147483648\n")
    (v2 / "job" / "step" / "memory.max").write_text("max\n")
    assert cgroup_limit(v2, "0::/job/step\n") == (2147483648, str(v2 / "job" / "memory.max"))
    v1 = tmp_path / "v1"
    (v1 / "memory" / "slurm").mkdir(parents=True)
    (v1 / "memory" / "slurm" / "memory.limit_in_bytes").write_text("1073741824\n")
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "unlimited"
    assert cgroup_limit(v1, "4:memory:/slurm\n3:cpu:/\n")[0] == 1073741824
    assert cgroup_limit(v1, "3:cpu:/\n") is None


def test_an_address_space_limit_refuses_an_agent_that_cannot_fit(tmp_path, write_config):
    """`ulimit -v` of 6 GB: an agent of 3.2 GB of parameters (four copies of them with Adam's
    state and gradients) is refused at check time, naming the limit, not after allocating."""
    big = tiny_raw()
    big["agents"][0]["net"] = {"type": "mlp", "hidden": [20000, 20000]}
    cfg = write_config(big)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))

    done = subprocess.run([sys.executable, "-m", "arena", "check", str(cfg)], capture_output=True, text=True,
                          preexec_fn=limit, cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "address-space limit (ulimit -v" in one_line(done.stderr, "check")


# ----------------------------------------------------------------------------- what the run leaves


def test_stale_temporary_files_are_removed_on_resume_and_nothing_else(finished, tmp_path):
    """Temporary files of cut-short writes older than the lock holder go, with a count in
    events.log; a newer one, and a file of the user's that only looks alike, stay."""
    import arena

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    old = time.time() - 3600
    stale = [run / ".results.json.0a1b2c3d.tmp", run / "checkpoints" / ".ckpt-00000004.pt.deadbeef.tmp"]
    kept = [run / ".notes.tmp", run / "mine.0a1b2c3d.tmp"]
    for p in stale + kept:
        p.write_bytes(b"x" * 100)
        os.utime(p, (old, old))
    arena.resume(run)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)
    log = (run / "events.log").read_text()
    assert "removed 2 stale temporary file(s)" in log and "checkpoints/.ckpt-00000004.pt.deadbeef.tmp" in log


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_every_file_a_run_writes_is_strict_json_and_old_nan_files_still_read(finished, tmp_path):
    """No NaN or Infinity in any JSON file of a finished, evaluated run (a generator that covers
    no mode has an undefined reverse KL: null); a file written before (with NaN) still reads."""
    from arena.core.files import dump_json, read_json
    from arena.rundir import RunDir

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    assert run_cli("eval", run, "-n", 300) == 0
    files = [p for p in run.rglob("*") if p.suffix in (".json", ".jsonl")]
    assert {p.name for p in files} >= {"metrics.jsonl", "eval.json", "leaderboard.json", "mixture.json", "results.json"}
    for p in files:
        text = p.read_text()
        for line in (text.splitlines() if p.suffix == ".jsonl" else [text]):
            _strict(line)
    assert json.loads(dump_json({"kl": math.nan, "x": [math.inf, 1.5]})) == {"kl": None, "x": [None, 1.5]}
    old = tmp_path / "old.json"
    old.write_text('{"reverse_kl": NaN, "modes": 0}')
    assert math.isnan(read_json(old)["reverse_kl"])
    assert RunDir(run).leaderboard()["rows"]


def test_compare_refuses_runs_on_different_data_unless_forced(finished, tmp_path, capsys):
    other = tmp_path / "grid"
    train({**tiny_raw(), "data": {"source": "grid25"}}, other)
    assert run_cli("compare", finished, other, "--source", "training", "-o", tmp_path / "c.md") == 2
    line = one_line(capsys.readouterr().err, "compare")
    assert "trains on other data (source=grid25) than" in line and "--force" in line, line
    with pytest.warns(RuntimeWarning, match=r"compared anyway \(--force\)"):
        assert run_cli("compare", finished, other, "--source", "training", "-o", tmp_path / "c.md", "--force") == 0
    assert (tmp_path / "c.md").exists()


# ----------------------------------------------------------------------------- terminals and small data


@pytest.mark.parametrize("columns", ["0", "1", "-5", "wide"])
def test_a_senseless_terminal_width_falls_back_to_a_sane_one(monkeypatch, capsys, columns):
    monkeypatch.setenv("COLUMNS", columns)
    assert run_cli("list") == 0
    out = capsys.readouterr().out
    assert "gan-v0" in out and max(map(len, out.splitlines())) >= 40


@pytest.mark.parametrize("rows, expected", [
    (2, "(2 rows: 1 for training and 1 held out by data.test_fraction 0.1) is too small: batch size 32 is larger "
        "than the 1 training samples; the file needs at least 36 rows"),
    (30, "(30 rows: 27 for training and 3 held out by data.test_fraction 0.1) is too small: batch size 32 is larger "
         "than the 27 training samples; the file needs at least 36 rows"),
])
def test_data_too_small_for_its_splits_and_batches_is_refused_naming_the_file(tmp_path, rows, expected):
    from arena.config import parse_config
    from arena.core.errors import ConfigError
    from arena.engine.arena import build_arena

    path = tmp_path / "points.npy"
    np.save(path, np.random.default_rng(0).normal(size=(rows, 2)).astype(np.float32))
    raw = {**tiny_raw(), "data": {"source": "npy", "path": str(path)}}
    with pytest.raises(ConfigError, match="schedule.batch_size") as info:
        build_arena(parse_config(raw))
    assert f"{path} {expected}" in str(info.value)
    if rows == 30:  # a batch the training split holds
        build_arena(parse_config({**raw, "schedule": {**raw["schedule"], "batch_size": 27}}))
