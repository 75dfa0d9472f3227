"""arena/recording/writers.py: the metrics log, the standings files and the checkpoints a run writes."""

from __future__ import annotations

import csv
import json

import pytest

from tests.conftest import records, tiny_raw, tiny_tournament, train


def test_a_tournament_writes_results_leaderboard_lineage_and_mixture(tmp_path):
    t = train(tiny_tournament(), tmp_path / "run")
    run = tmp_path / "run"
    results = json.loads((run / "results.json").read_text())
    assert len(results) == 4 and results[0]["generators"] == ["g0", "g1", "g2"]
    assert all(0 <= p <= 1 for r in results for row in r["payoff"] for p in row)
    rows = list(csv.DictReader((run / "leaderboard.csv").open()))
    assert [r["agent"][0] for r in rows] == ["g"] * 3 + ["d"] * 3
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 1, 2, 3]
    board = json.loads((run / "leaderboard.json").read_text())
    assert board["matching"] == 8 and board["system"] == "glicko2"
    ratings = [r["rating"] for r in board["rows"] if r["role"] == "generator"]
    assert ratings == sorted(ratings, reverse=True)
    # 8 matchings x 3 matches: every agent played 8 matches
    assert all(r["matches"] == 8 for r in board["rows"])
    lineage = json.loads((run / "lineage.json").read_text())
    assert [r["matching"] for r in lineage] == [4, 4]  # selection at 4, not after the last matching
    assert {r["role"] for r in lineage} == {"generator", "discriminator"}
    mixture = json.loads((run / "mixture.json").read_text())
    assert 1 <= len(mixture["components"]) <= 2 and sum(mixture["weights"]) == pytest.approx(1)
    assert {"modes", "high_quality", "reverse_kl"} <= set(mixture["metrics"])
    kinds = {r["kind"] for r in records(run)}
    assert {"payoff", "selection", "eval", "train"} <= kinds
    assert t.standings.identity(t.arena.agent(lineage[0]["replaced"])).endswith("@1")


# ----------------------------------------------------------------------------- each writer alone


class FakeTournament:
    """What the writers read of a tournament, set by hand."""

    def __init__(self, records: int = 0, completed: int = 0, keep_last: int = 2) -> None:
        from types import SimpleNamespace

        self.records, self.completed = records, completed
        self.config = SimpleNamespace(checkpoint=SimpleNamespace(keep_last=keep_last), ratings=SimpleNamespace(system="elo"))
        from arena.output.record import OutputRecord

        self.standings = SimpleNamespace(output=OutputRecord(["g"], [1.0], completed, {}), results=[{"payoff": [[0.5]]}],
                                         lineage=[])

    def state_dict(self):
        import torch

        return {"matching": self.completed, "w": torch.arange(3.0)}


@pytest.fixture
def run_dir(tmp_path):
    from arena.config import parse_config
    from arena.rundir import RunDir

    return RunDir.create(parse_config(tiny_raw()), tmp_path / "run", "cpu")


def test_the_metrics_writer_appends_and_a_resume_cuts_the_log_back(run_dir):
    from arena.recording.writers import MetricsWriter

    w = MetricsWriter(run_dir)
    w.on_run_start(FakeTournament(records=0))
    for i in range(5):
        w.on_log(FakeTournament(), {"kind": "train", "i": i})
    assert [r["i"] for r in records(run_dir.path)] == [0, 1, 2, 3, 4]
    MetricsWriter(run_dir).on_run_start(FakeTournament(records=3))  # a resume from a checkpoint that counted 3 lines
    assert [r["i"] for r in records(run_dir.path)] == [0, 1, 2]


def test_the_standings_writer_writes_every_standings_file(run_dir):
    from arena.recording.writers import StandingsWriter
    from arena.tournament.callbacks import Review

    rows = [{"rank": 1, "agent": "g", "role": "generator", "rating": 1500.0}]
    review = Review(4, 40, {}, [], {}, [], None, rows)
    StandingsWriter(run_dir).on_review(FakeTournament(), review)
    board = json.loads((run_dir.path / "leaderboard.json").read_text())
    assert board == {"matching": 4, "rounds": 40, "system": "elo",
                     "mixture": {"components": ["g"], "weights": [1.0], "matching": 0, "metrics": {}, "version": 1},
                     "rows": rows}
    assert list(csv.DictReader((run_dir.path / "leaderboard.csv").open())) == [
        {"rank": "1", "agent": "g", "role": "generator", "rating": "1500.0"}]
    assert json.loads((run_dir.path / "results.json").read_text()) == [{"payoff": [[0.5]]}]
    assert json.loads((run_dir.path / "lineage.json").read_text()) == []
    assert json.loads((run_dir.path / "mixture.json").read_text())["components"] == ["g"]


def test_the_checkpoint_writer_keeps_the_newest(run_dir):
    from arena.recording.writers import CheckpointWriter

    w = CheckpointWriter(run_dir)
    for matching in (2, 4, 6):
        w.on_checkpoint(FakeTournament(completed=matching, keep_last=2))
    assert [int(m.stem.split("-")[1]) for m in run_dir.checkpoints()] == [4, 6]
    assert run_dir.load_checkpoint()["matching"] == 6


def test_the_recording_callbacks_come_in_one_explicit_order(run_dir):
    from arena.cli.display import Display
    from arena.config import parse_config
    from arena.recording import callbacks

    shown = Display("x", quiet=True)
    every = parse_config(tiny_raw(review={"pictures": True}, log={"report": True, "tensorboard": True}))
    names = [type(c).__name__ for c in callbacks(run_dir, every, [shown])]
    assert names == ["MetricsWriter", "PictureWriter", "StandingsWriter", "CheckpointWriter", "TensorBoardWriter", "Display",
                     "ReportWriter"]
    fewest = parse_config(tiny_raw())
    assert [type(c).__name__ for c in callbacks(run_dir, fewest)] == ["MetricsWriter", "StandingsWriter", "CheckpointWriter"]
    assert callbacks(None, every, [shown]) == [shown], "a process that writes no directory calls only the caller's"
