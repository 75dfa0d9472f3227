"""arena/core/faults.py: the process-wide fault plan of the crash-safety tests, read from the
environment when a run starts, never reaching a public signature."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from arena.core import faults
from arena.core.errors import ConfigError
from arena.core.faults import Faults
from benchmarks.children import child_env
from tests.conftest import ROOT, arena_subprocess


def test_faults_come_from_the_environment_only_when_asked():
    assert Faults.from_env({}).point is None
    plan = Faults.from_env({"ARENA_FAULT": "review:3"})
    assert plan.point == "review" and plan.left == 3
    assert Faults.from_env({"ARENA_FAULT": "round"}).left == 1
    with pytest.raises(ConfigError, match=re.escape("ARENA_FAULT: unknown point 'nowhere' (points: round, checkpoint-write, "
                                                    "checkpoint-manifest, review, write)")):
        Faults.from_env({"ARENA_FAULT": "nowhere:2"})
    with pytest.raises(ConfigError, match=re.escape("expected POINT[:N[:ERRNO]] with a positive integer N")):
        Faults.from_env({"ARENA_FAULT": "review:x"})


def test_the_process_wide_plan_counts_hits_at_its_point_only():
    faults.arm("review", 3)
    try:
        assert faults.armed("review") and not faults.armed("round")
        faults.hit("round")  # another point: not counted
        faults.hit("review")
        faults.hit("review")  # the third would kill this process
        assert faults._plan.left == 1
    finally:
        faults.disarm()
    assert not faults.armed("review")
    faults.hit("review")  # disarmed: nothing happens


def test_an_armed_plan_kills_the_process_at_its_count():
    code = "from arena.core import faults; faults.arm('round', 2); faults.hit('round'); print('first', flush=True); faults.hit('round'); print('second', flush=True)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": child_env()["PYTHONPATH"]})
    assert done.stdout.split() == ["first"] and done.returncode == -9


def test_a_bad_fault_plan_is_a_user_error_when_a_run_starts_not_an_import_error(tmp_path):
    env = {"ARENA_FAULT": "bogus:1"}
    imported = subprocess.run([sys.executable, "-c", "import arena, arena.api, arena.cli; print('ok')"],
                              capture_output=True, text=True, env={**env, "PYTHONPATH": child_env()["PYTHONPATH"]})
    assert imported.stdout.strip() == "ok", imported.stderr
    cfg = ROOT / "configs" / "ring8.yaml"
    done = arena_subprocess("run", cfg, "--out", tmp_path / "r", "--quiet", cwd=tmp_path, env=env)
    assert done.returncode == 2 and "ARENA_FAULT: unknown point 'bogus'" in done.stderr
    assert not (tmp_path / "r").exists()


def test_no_public_signature_carries_a_fault_plan():
    import inspect

    import arena
    from games import Game

    for fn in (arena.run, arena.resume, arena.Run.create, arena.Run.open, arena.Tournament.__init__, Game.play_round):
        params = inspect.signature(fn).parameters
        assert "faults" not in params and "between" not in params, fn
