"""The callbacks that write a run directory's records while the loop plays: the metrics log, the
standings files (leaderboard, results, lineage, mixture) and the checkpoints.

Each writes through :class:`arena.rundir.RunDir`, which owns the names and formats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arena.rundir.rundir import RunDir
from arena.tournament.callbacks import Callback, Review

if TYPE_CHECKING:  # pragma: no cover
    from arena.tournament.loop import Tournament

__all__ = ["MetricsWriter", "StandingsWriter", "CheckpointWriter"]


class MetricsWriter(Callback):
    """Appends every logged record to ``metrics.jsonl``. When a run starts (or resumes) the log is
    cut back to the records the tournament has counted, so lines written after the checkpoint it
    resumes from, or by an attempt killed before its first checkpoint, are dropped."""

    part = "metrics log"

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir

    def on_run_start(self, tournament: Tournament) -> None:
        self.run_dir.metrics.truncate(tournament.records)

    def on_log(self, tournament: Tournament, record: dict[str, Any]) -> None:
        self.run_dir.metrics.write(record)


class StandingsWriter(Callback):
    """At every review: ``leaderboard.json``/``.csv``, ``results.json``, ``lineage.json`` and ``mixture.json``."""

    part = "standings files"

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir

    def on_review(self, tournament: Tournament, review: Review) -> None:
        standings = tournament.standings
        header = {"matching": review.matching, "rounds": review.rounds, "system": tournament.config.ratings.system}
        self.run_dir.write_standings(review.leaderboard, header, standings.results, standings.lineage, standings.output)


class CheckpointWriter(Callback):
    """Saves the tournament's state atomically when the loop says a checkpoint is due, keeping the
    newest ``checkpoint.keep_last``."""

    part = "checkpoints"

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir

    def on_checkpoint(self, tournament: Tournament) -> None:
        self.run_dir.save_checkpoint(tournament.state_dict(), tournament.completed, tournament.config.checkpoint.keep_last)
