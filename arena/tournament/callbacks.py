"""The callback protocol: how the loop tells the outside world what happened.

The loop (:class:`arena.tournament.Tournament`) knows nothing of files, terminals or reports.
At fixed points it calls the methods of its callbacks, in order; the metrics log, the pictures,
the leaderboard files, the checkpoints, TensorBoard and the report are callbacks
(:mod:`arena.recording`, which also sets their order), and so are the terminal display
(:mod:`arena.cli.display`) and anything a user passes to ``arena.run(..., callbacks=[...])``. A
callback reads the tournament; it must not change it (except :meth:`Tournament.request_stop`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from arena.output.record import OutputRecord

if TYPE_CHECKING:  # pragma: no cover
    from arena.engine.execution import Outcome
    from arena.tournament.loop import Tournament

__all__ = ["Callback", "CallbackList", "Review"]


@dataclasses.dataclass
class Review:
    """What one review found (:mod:`arena.tournament.review`): every generator's samples and
    metrics, cross-play, ratings, selection, the mixture and its panel, the league's snapshots.

    Attributes:
        matching: matchings completed.
        rounds: pair-rounds played.
        samples: each generator's review samples, by name.
        records: the ``eval`` records of each generator's (and on 1-D data each
            discriminator's) metrics, as logged.
        payoff: the recorded cross-play period (identities and the payoff matrix).
        lineage: the selection records of this review (empty when none was due).
        output: the output chosen now (:class:`arena.output.record.OutputRecord`: the mixture's
            components, weights and figures; its panel).
        leaderboard: the leaderboard's rows.
        snapshots: the league's snapshot records of this review (empty when none was due).
        log: every record of this review, in the order the loop logs them (``eval`` records
            and warnings, the payoff, selections, snapshots, the mixture's and the output's
            ``eval`` records).
    """

    matching: int
    rounds: int
    samples: dict[str, torch.Tensor]
    records: list[dict[str, Any]]
    payoff: dict[str, Any]
    lineage: list[dict[str, Any]]
    output: OutputRecord | None
    leaderboard: list[dict[str, Any]]
    snapshots: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    log: list[dict[str, Any]] = dataclasses.field(default_factory=list)


class Callback:
    """Hooks of the loop; each does nothing unless overridden."""

    part: ClassVar[str | None] = None
    """The part of a run's time its hooks count as in a profile (:mod:`arena.tournament.timing`);
    None: the loop's own ("other")."""

    def on_run_start(self, tournament: Tournament) -> None:
        """Before the first matching this process plays (after a resume's state is loaded)."""

    def on_match_end(self, tournament: Tournament, outcome: Outcome, rounds_done: int, rounds_total: int) -> None:
        """After each match; ``rounds_done`` counts the schedule's rounds up to this match."""

    def on_log(self, tournament: Tournament, record: dict[str, Any]) -> None:
        """For every record of the run's log, in order: ``train``, ``eval``, ``payoff``,
        ``selection``, ``snapshot``, ``warning`` and ``divergence`` records (the lines of
        ``metrics.jsonl``)."""

    def on_review(self, tournament: Tournament, review: Review) -> None:
        """After each review (its records have been logged)."""
        if type(self).on_evaluation is not Callback.on_evaluation:
            warnings.warn(f"{type(self).__name__}.on_evaluation is called on_review now; the old name goes in the "
                          f"next release", DeprecationWarning, stacklevel=2)
            self.on_evaluation(tournament, review)

    def on_evaluation(self, tournament: Tournament, review: Review) -> None:
        """Deprecated: the old name of :meth:`on_review`, still called for one release."""

    def on_checkpoint(self, tournament: Tournament) -> None:
        """When the state is due to be saved: ``tournament.state_dict()`` is everything a resume needs."""

    def on_run_end(self, tournament: Tournament) -> None:
        """When the loop returns, finished or stopped, or is left by an error."""


class CallbackList(Callback):
    """Several callbacks, called in order, each inside its :attr:`Callback.part` of the
    tournament's timer (:mod:`arena.tournament.timing`) where it names one."""

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks = list(callbacks)

    def _each(self, tournament: Tournament, hook: str, *args: Any) -> None:
        for c in self.callbacks:
            with tournament.timer.part(c.part) if c.part else contextlib.nullcontext():
                getattr(c, hook)(tournament, *args)

    def on_run_start(self, tournament):
        self._each(tournament, "on_run_start")

    def on_match_end(self, tournament, outcome, rounds_done, rounds_total):
        self._each(tournament, "on_match_end", outcome, rounds_done, rounds_total)

    def on_log(self, tournament, record):
        self._each(tournament, "on_log", record)

    def on_review(self, tournament, review):
        self._each(tournament, "on_review", review)

    def on_checkpoint(self, tournament):
        self._each(tournament, "on_checkpoint")

    def on_run_end(self, tournament):
        self._each(tournament, "on_run_end")
