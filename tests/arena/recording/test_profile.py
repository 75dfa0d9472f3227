"""arena/recording/profile.py: a whole run part by part, each part counted once, and the
functions it times put back afterwards; `arena run --profile` prints the table and keeps it."""

from __future__ import annotations

import json
import time

import pytest

from arena.cli import main
from arena.recording.profile import Profile, process_age
from tests.conftest import tiny_tournament


def test_the_parts_add_up_to_the_whole_and_nothing_stays_wrapped(tmp_path):
    from arena.api import Run
    from arena.config import parse_config
    from arena.engine.execution import MatchRunner
    from arena.tournament import review

    before = (MatchRunner.play, review.cross_play)
    run = Run.create(parse_config(tiny_tournament(log={"report": True})), tmp_path / "run", "cpu")
    with Profile() as profile:
        run.play()
    assert (MatchRunner.play, review.cross_play) == before, "the originals are back"
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
