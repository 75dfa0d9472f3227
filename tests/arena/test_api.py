"""arena/api.py: arena.run, arena.resume and arena.load from Python, the documented script, and the
callback protocol as a user sees it."""

from __future__ import annotations

import re

import pytest
import torch

import arena
from arena.config import parse_config
from arena.core.errors import ArenaError, CheckpointError, ConfigError
from arena.rundir import RunDir
from tests.conftest import ROOT, records, tiny_pool, tiny_raw


def readme_script() -> str:
    """The first Python block of the "From Python" section of docs/concepts.md (where the README
    sends a reader for Python)."""
    text = (ROOT / "docs" / "concepts.md").read_text()
    section = text.split("\n## From Python\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the From Python section of docs/concepts.md holds a python block"
    return match.group(1)


def test_the_readme_script_runs_as_written(tmp_path, monkeypatch, capsys):
    """The script as a user runs it, in this process (a fresh one would only add torch's import)."""
    import runpy

    (tmp_path / "configs").symlink_to(ROOT / "configs")
    (tmp_path / "script.py").write_text(readme_script())
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(tmp_path / "script.py"), run_name="__main__")
    assert (tmp_path / "runs" / "quick" / "mixture.json").is_file()
    assert "high_quality" in capsys.readouterr().out


class Recorder(arena.Callback):
    """Remembers the order of the loop's calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_run_start(self, tournament):
        self.calls.append(f"start {tournament.completed}")

    def on_match_end(self, tournament, outcome, rounds_done, rounds_total):
        self.calls.append(f"match {rounds_done}/{rounds_total}")

    def on_log(self, tournament, record):
        self.calls.append(f"log {record['kind']}")

    def on_review(self, tournament, review):
        self.calls.append(f"review {review.matching}")

    def on_checkpoint(self, tournament):
        self.calls.append(f"checkpoint {tournament.completed}")

    def on_run_end(self, tournament):
        self.calls.append(f"end {tournament.completed}")


def test_run_calls_the_callbacks_in_order_and_writes_the_directory(tmp_path):
    raw = tiny_raw(schedule={"matchings": 4, "steps_per_match": 5}, review={"every": 2}, checkpoint={"every": 4})
    recorder = Recorder()
    run = arena.run(parse_config(raw), out=tmp_path / "run", callbacks=[recorder])
    assert run.finished and run.path == tmp_path / "run"
    assert recorder.calls == [
        "start 0",
        "match 5/20", "log train",
        "match 10/20", "log train", "log eval", "log payoff", "review 2",
        "match 15/20", "log train",
        "match 20/20", "log train", "log eval", "log payoff", "review 4", "checkpoint 4",
        "end 4",
    ]
    assert [r["kind"] for r in records(tmp_path / "run")] == [c.split()[1] for c in recorder.calls if c.startswith("log")]
    assert RunDir(tmp_path / "run").leaderboard()["matching"] == 4


def test_the_loop_writes_nothing_without_writers(tmp_path, monkeypatch):
    """A tournament with no callbacks touches no file: the run directory is the writers' business."""
    from arena.engine.arena import build_arena
    from arena.tournament.loop import Tournament

    monkeypatch.chdir(tmp_path)
    t = Tournament(build_arena(parse_config(tiny_raw(schedule={"matchings": 2}, review={"every": 1}))))
    t.run()
    assert t.completed == 2 and list(tmp_path.iterdir()) == []


def test_sample_evaluate_leaderboard_and_load(tmp_path):
    raw = tiny_pool(2, 2, schedule={"matchings": 4}, review={"every": 2})
    run = arena.run(parse_config(raw), out=tmp_path / "run")
    x = run.sample(300, agent="g1", seed=5)
    assert x.shape == (300, 2) and torch.equal(x, run.sample(300, agent="g1", seed=5))
    mix = run.sample(300, agent="mixture", seed=5)
    assert mix.shape == (300, 2)
    results = run.evaluate(agent="mixture", n=500, seed=2)
    assert set(results) == {"mixture"} and results["mixture"]["samples"] == 500
    assert {"modes", "high_quality", "reverse_kl"} <= set(results["mixture"])
    assert set(run.evaluate(n=300)) == {"g0", "g1"}
    saved = RunDir(tmp_path / "run").evaluations()
    assert set(saved) == {"mixture", "g0", "g1"} and saved["mixture"]["seed"] == 2
    assert {r["agent"] for r in run.leaderboard()["rows"]} == {"g0", "g1", "d0", "d1"}
    assert set(run.ratings("elo")) == {"g0", "g1", "d0", "d1"}

    state = torch.get_rng_state()
    loaded = arena.load(tmp_path / "run")
    assert torch.equal(torch.get_rng_state(), state), "reading a run leaves the caller's random state alone"
    assert loaded.tournament.completed == 4 and loaded.config == run.config
    assert torch.equal(loaded.sample(300, agent="g1", seed=5), x)
    assert torch.equal(loaded.sample(300, agent="mixture", seed=5), mix)
    with pytest.raises(ArenaError, match="d0 is a discriminator"):
        loaded.sample(5, agent="d0")
    with pytest.raises(ConfigError, match="no agent named 'zz'"):
        loaded.sample(5, agent="zz")


def test_resume_continues_and_load_needs_a_checkpoint(tmp_path):
    raw = tiny_raw(schedule={"matchings": 4}, checkpoint={"every": 2})

    class Stop(arena.Callback):
        def on_checkpoint(self, tournament):
            tournament.request_stop()

    stopped = arena.run(parse_config(raw), out=tmp_path / "cut", callbacks=[Stop()])
    assert not stopped.finished and stopped.tournament.completed == 2
    resumed = arena.resume(tmp_path / "cut")
    assert resumed.finished and resumed.tournament.completed == 4
    full = arena.run(parse_config(raw), out=tmp_path / "full")
    assert records(tmp_path / "cut") == records(tmp_path / "full")
    assert torch.equal(resumed.sample(100, seed=1), full.sample(100, seed=1))

    RunDir.create(parse_config(raw), tmp_path / "empty", "cpu")
    with pytest.raises(CheckpointError, match="no checkpoint in"):
        arena.load(tmp_path / "empty")
    with pytest.warns(RuntimeWarning, match="has no checkpoint yet; starting it over from the beginning"):
        started_over = arena.resume(tmp_path / "empty")
    assert started_over.finished and records(tmp_path / "empty") == records(tmp_path / "full")


def test_overrides_apply_to_a_config_file_only(tmp_path, write_config):
    path = write_config(tiny_raw(schedule={"matchings": 2}))
    run = arena.run(path, out=tmp_path / "run", overrides=["schedule.matchings=1"])
    assert run.config.schedule.matchings == 1 and run.tournament.completed == 1
    with pytest.raises(ConfigError, match="overrides apply to a config file"):
        arena.run(parse_config(tiny_raw()), out=tmp_path / "x", overrides=["seed=1"])
