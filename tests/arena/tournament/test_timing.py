"""arena/tournament/timing.py: the loop tells its timer of every step; a profile times a whole run
part by part, each part counted once; `arena run --profile` prints the table and keeps it."""

from __future__ import annotations

import contextlib
import json
import time

import pytest

from arena.cli import main
from arena.tournament.timing import NO_TIMER, Profile, process_age
from tests.conftest import tiny_tournament


class Told:
    """A timer that writes down the parts it is told of, in order."""

    def __init__(self) -> None:
        self.told: list[str] = []

    def part(self, name):
        self.told.append(name)
        return contextlib.nullcontext()


def test_the_loop_tells_its_timer_of_each_step_in_order(tmp_path):
    """A 2-matching run reviewed after the second: the matches of each matching, then the review's
    steps; and every callback's hooks inside the callback's own part (writing the metrics log,
    pictures, standings files, checkpoints)."""
    from arena.api import Run
    from arena.config import parse_config

    raw = tiny_tournament(schedule={"matchings": 2, "steps_per_match": 2, "batch_size": 32}, review={"every": 2, "samples": 100},
                          checkpoint={"every": 2}, log={"report": False, "every": 2})
    run = Run.create(parse_config(raw), tmp_path / "run", "cpu")
    assert run.tournament.timer is NO_TIMER
    timer = run.tournament.timer = Told()
    run.play()
    callbacks = ["metrics log", "pictures", "standings files", "checkpoints"]  # the run's writers, in order
    assert [name for name in timer.told if name not in callbacks] == [
        "matches", "matches", "sampling & metrics", "cross-play", "ratings", "selection", "mixture"]
    assert timer.told[:4] == callbacks  # on_run_start
    hooks = [timer.told[i:i + 4] for i, name in enumerate(timer.told) if name == "metrics log"]
    assert all(h == callbacks for h in hooks)  # every hook of every writer, each in its part


def test_the_parts_add_up_to_the_whole(tmp_path):
    from arena.api import Run
    from arena.config import parse_config

    run = Run.create(parse_config(tiny_tournament(log={"report": True})), tmp_path / "run", "cpu")
    with Profile() as profile:
        run.tournament.timer = profile
        run.play()
    parts = profile.parts()
    for part in ("matches", "sampling & metrics", "cross-play", "ratings", "selection", "mixture", "pictures",
                 "standings files", "checkpoints", "report", "metrics log"):
        assert part in parts and parts[part] >= 0, part
    assert parts["matches"] > 0 and parts["cross-play"] > 0 and parts["report"] > 0 and parts["metrics log"] > 0
    counted = sum(v for k, v in parts.items() if k != "start-up")
    assert counted == pytest.approx(profile.total, rel=1e-6), "each part once: they sum to the profiled time"


def test_nested_parts_count_as_their_own():
    profile = Profile()
    with profile:
        with profile.part("outer"):
            time.sleep(0.05)
            with profile.part("inner"):
                time.sleep(0.1)
    parts = profile.parts()
    assert parts["inner"] == pytest.approx(0.1, abs=0.05)
    assert parts["outer"] == pytest.approx(0.05, abs=0.04), "the inner part's time is not the outer's"


def test_process_age_is_the_time_since_start():
    age = process_age()
    assert age is None or 0 < age < 24 * 3600


def test_arena_run_profile_prints_and_keeps_the_table(tmp_path, write_config, capsys):
    run = tmp_path / "run"
    config = write_config(tiny_tournament(log={"report": False}))  # the report's part: the test above
    assert main(["run", str(config), "--out", str(run), "--quiet", "--profile"]) == 0
    err = capsys.readouterr().err
    assert "| matches |" in err and "| build |" in err and "**whole run**" in err
    kept = json.loads((run / "profile.json").read_text())
    assert kept["parts"]["matches"] > 0 and kept["device"] == "cpu"
