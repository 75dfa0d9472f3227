"""The callbacks that write a run directory while the loop plays: the metrics log, the pictures,
the standings files (leaderboard, results, lineage, mixture) and the checkpoints.

Each writes through :class:`arena.rundir.RunDir`, which owns the names and formats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arena.core.faults import NO_FAULTS, Faults
from arena.rundir.rundir import RunDir
from arena.tournament.callbacks import Callback, Evaluation

if TYPE_CHECKING:  # pragma: no cover
    from arena.tournament.loop import Tournament

__all__ = ["MetricsWriter", "PictureWriter", "StandingsWriter", "CheckpointWriter", "writers"]


class MetricsWriter(Callback):
    """Appends every logged record to ``metrics.jsonl``. When a run starts (or resumes) the log is
    cut back to the records the tournament has counted, so lines written after the checkpoint it
    resumes from, or by an attempt killed before its first checkpoint, are dropped."""

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir

    def on_run_start(self, tournament: Tournament) -> None:
        self.run_dir.metrics.truncate(tournament.records)

    def on_log(self, tournament: Tournament, record: dict[str, Any]) -> None:
        self.run_dir.metrics.write(record)


class PictureWriter(Callback):
    """At every evaluation, a picture of each generator's samples (``samples/<name>-<matching>.png``),
    drawn as the data's kind draws it (with the discriminator of its cell beside 1-D samples); of
    the ``eval.pictures_max`` best-rated generators where there are more."""

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir

    def on_evaluation(self, tournament: Tournament, evaluation: Evaluation) -> None:
        arena = tournament.arena
        grid, most = tournament.config.eval.grid, tournament.config.eval.pictures_max
        chosen = {g.name for g in sorted(arena.generators, key=tournament.standings.rating, reverse=True)[:most]}
        for gi, g in enumerate(arena.generators):
            if g.name not in chosen:
                continue
            d = arena.discriminators[gi % len(arena.discriminators)]
            path = self.run_dir.picture(g.name, evaluation.matching)
            arena.data.kind.picture(evaluation.samples[g.name], path, arena.data, d,
                                    f"{g.name} after {evaluation.rounds:,} rounds", grid)


class StandingsWriter(Callback):
    """At every evaluation: ``leaderboard.json``/``.csv``, ``results.json``, ``lineage.json`` and ``mixture.json``."""

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir

    def on_evaluation(self, tournament: Tournament, evaluation: Evaluation) -> None:
        standings = tournament.standings
        header = {"matching": evaluation.matching, "rounds": evaluation.rounds,
                  "system": tournament.config.ratings.system, "mixture": standings.mixture}
        self.run_dir.write_standings(evaluation.leaderboard, header, standings.results, standings.lineage, standings.mixture)


class CheckpointWriter(Callback):
    """Saves the tournament's state atomically when the loop says a checkpoint is due, keeping the
    newest ``checkpoint.keep_last``."""

    def __init__(self, run_dir: RunDir, faults: Faults = NO_FAULTS) -> None:
        self.run_dir = run_dir
        self.faults = faults

    def on_checkpoint(self, tournament: Tournament) -> None:
        self.run_dir.save_checkpoint(tournament.state_dict(), tournament.completed,
                                     tournament.config.checkpoint.keep_last, self.faults)


def writers(run_dir: RunDir, config, faults: Faults = NO_FAULTS, progress=None) -> list[Callback]:
    """Every callback that writes ``run_dir``, in the order they run, as ``config`` asks for them
    (pictures, the report, TensorBoard)."""
    out: list[Callback] = [MetricsWriter(run_dir)]
    if config.eval.pictures:
        out.append(PictureWriter(run_dir))
    out += [StandingsWriter(run_dir), CheckpointWriter(run_dir, faults)]
    if config.log.tensorboard:
        from arena.rundir.tensorboard import TensorBoardWriter

        out.append(TensorBoardWriter(run_dir))
    if config.log.report:
        from arena.report.writer import ReportWriter

        out.append(ReportWriter(run_dir, progress))
    return out
