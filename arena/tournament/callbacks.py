"""The callback protocol: how the loop tells the outside world what happened.

The loop (:class:`arena.tournament.Tournament`) knows nothing of files, terminals or reports.
At fixed points it calls the methods of its callbacks, in order; the terminal display, the
metrics log, the pictures, the leaderboard files and the checkpoints are callbacks
(:mod:`arena.rundir.writers`, :mod:`arena.cli.display`), and so is anything a user passes to
``arena.run(..., callbacks=[...])``. A callback reads the tournament; it must not change it
(except :meth:`Tournament.request_stop`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:  # pragma: no cover
    from arena.engine.execution import Outcome
    from arena.tournament.loop import Tournament

__all__ = ["Callback", "CallbackList", "Evaluation"]


@dataclasses.dataclass
class Evaluation:
    """What one evaluation found, after cross-play, ratings, selection and the mixture.

    Attributes:
        matching: matchings completed.
        rounds: pair-rounds played.
        samples: each generator's evaluation samples, by name.
        records: the ``eval`` records of this evaluation (each generator's, and on 1-D data each
            discriminator's, metrics), as logged.
        payoff: the recorded cross-play period (identities and the payoff matrix).
        lineage: the selection records of this evaluation (empty when none was due).
        mixture: the mixture chosen now (components, weights, metrics).
        leaderboard: the leaderboard's rows.
    """

    matching: int
    rounds: int
    samples: dict[str, torch.Tensor]
    records: list[dict[str, Any]]
    payoff: dict[str, Any]
    lineage: list[dict[str, Any]]
    mixture: dict[str, Any] | None
    leaderboard: list[dict[str, Any]]


class Callback:
    """Hooks of the loop; each does nothing unless overridden."""

    def on_run_start(self, tournament: Tournament) -> None:
        """Before the first matching this process plays (after a resume's state is loaded)."""

    def on_match_end(self, tournament: Tournament, outcome: Outcome, rounds_done: int, rounds_total: int) -> None:
        """After each match; ``rounds_done`` counts the schedule's rounds up to this match."""

    def on_log(self, tournament: Tournament, record: dict[str, Any]) -> None:
        """For every record of the run's log, in order: ``train``, ``eval``, ``payoff``,
        ``selection``, ``warning`` and ``divergence`` records (the lines of ``metrics.jsonl``)."""

    def on_evaluation(self, tournament: Tournament, evaluation: Evaluation) -> None:
        """After each evaluation (its records have been logged)."""

    def on_checkpoint(self, tournament: Tournament) -> None:
        """When the state is due to be saved: ``tournament.state_dict()`` is everything a resume needs."""

    def on_run_end(self, tournament: Tournament) -> None:
        """When the loop returns, finished or stopped, or is left by an error."""


class CallbackList(Callback):
    """Several callbacks, called in order."""

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks = list(callbacks)

    def on_run_start(self, tournament):
        for c in self.callbacks:
            c.on_run_start(tournament)

    def on_match_end(self, tournament, outcome, rounds_done, rounds_total):
        for c in self.callbacks:
            c.on_match_end(tournament, outcome, rounds_done, rounds_total)

    def on_log(self, tournament, record):
        for c in self.callbacks:
            c.on_log(tournament, record)

    def on_evaluation(self, tournament, evaluation):
        for c in self.callbacks:
            c.on_evaluation(tournament, evaluation)

    def on_checkpoint(self, tournament):
        for c in self.callbacks:
            c.on_checkpoint(tournament)

    def on_run_end(self, tournament):
        for c in self.callbacks:
            c.on_run_end(tournament)
