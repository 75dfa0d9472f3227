"""The tournament loop: matchings of matches, training metrics, reviews, checkpoints.

A tournament plays its schedule's matchings. Every ``log.every`` matchings it logs the training
metrics; every ``review.every`` it reviews (:mod:`arena.tournament.review`: samples and metrics,
cross-play, ratings, selection, the mixture and its panel, the league); every
``checkpoint.every`` it asks for a checkpoint. The classic GAN is the 1 x 1 case: one generator,
one discriminator, the same loop. The loop knows nothing of files or terminals; it hands what
happens to its callbacks (:mod:`arena.tournament.callbacks`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from agents import Agent
from arena.core.errors import ArenaError, CheckpointError
from arena.core.seeding import seed_global
from arena.engine.arena import Arena
from arena.engine.compute import Compute
from arena.engine.divergence import DivergenceGuard
from arena.engine.execution import Match, MatchRunner, Outcome, workload
from arena.evaluation.diagnostics import Diagnostics
from arena.tournament.callbacks import Callback, CallbackList, Review
from arena.tournament.leaderboard import standings_rows
from arena.tournament.league import League
from arena.tournament.review import review, warning_records
from arena.tournament.schedules import make_schedule
from arena.tournament.standings import Standings
from arena.tournament.timing import NO_TIMER, Timer

__all__ = ["Tournament", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = 1


class Tournament:
    """Plays a config's schedule in an arena and tells its callbacks what happens.

    Args:
        arena: the built arena.
        callbacks: called at fixed points of the loop (:class:`arena.tournament.Callback`).
        comm: the ranks of a distributed run (:mod:`arena.engine.distributed`); every rank plays
            its share of each matching and keeps every agent.
    """

    def __init__(self, arena: Arena, callbacks: Iterable[Callback] = (), comm=None) -> None:
        self.arena = arena
        self.config = arena.config
        self.callbacks = CallbackList(callbacks)
        self.comm = comm
        self.schedule = make_schedule(self.config.schedule.type, len(arena.generators), len(arena.discriminators), self.config.seed)
        self.standings = Standings()
        lg = self.config.league
        self.league = League(lg.every, lg.keep, lg.play_every, self.config.seed)
        self.completed = 0
        """Matchings completed."""
        self.rounds = 0
        """Pair-rounds played."""
        self.elapsed = 0.0
        """Seconds of play, over every process that played this run."""
        self.records = 0
        """Records logged (the lines of ``metrics.jsonl``)."""
        self.stop_requested = False
        div = self.config.divergence
        self.guard = DivergenceGuard(div.max_weight, div.lr_factor, div.max_failures, div.enabled, arena.device)
        self.compute = Compute(self.config.compute, arena.device, workload(arena, self.rounds_total))
        self.compute.prepare(arena.agents.values())
        self.runner = MatchRunner(arena, self.guard, self.compute, comm)
        self.diagnostics = Diagnostics()
        self.timer: Timer = NO_TIMER
        """Told of every step the loop takes (:mod:`arena.tournament.timing`; a :class:`Profile` times them)."""

    # ------------------------------------------------------------------ reading
    def matches_of(self, k: int) -> list[Match]:
        """The matches of matching ``k``: the schedule's pairs, or for a multi-player game one
        team in turn (GMAN: generator ``k mod N`` against every discriminator; MAD-GAN: every
        generator against discriminator ``k mod M``)."""
        n, m = len(self.arena.generators), len(self.arena.discriminators)
        teams = self.arena.game.shape.matches(k, n, m)
        if teams is not None:
            return teams
        ranking = self.standings.ranking(self.arena.generators, self.arena.discriminators) if self.schedule.uses_ranking else None
        return [((gi,), (di,)) for gi, di in self.schedule.matching(k, ranking)]

    @property
    def rounds_total(self) -> int:
        """The schedule's rounds from its first matching to its last."""
        per = len(self.matches_of(0)) * self.config.schedule.steps_per_match
        return per * self.config.schedule.matchings

    @property
    def finished(self) -> bool:
        return self.completed >= self.config.schedule.matchings

    def active(self, agent: Agent) -> bool:
        """Whether ``agent`` still plays: not retired (a family's member: its family not retired)."""
        return not self.guard.is_retired(getattr(agent, "family", agent))

    def leaderboard(self) -> list[dict[str, Any]]:
        """The leaderboard's rows now (the league's snapshots among them)."""
        arena = self.arena
        return standings_rows([*arena.judged, *self.league.generators, *arena.discriminators, *self.league.discriminators],
                              self.standings, self.guard, self.league.status)

    def request_stop(self) -> None:
        """Stop after the current matching, with a checkpoint (the first Ctrl-C)."""
        self.stop_requested = True

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs: counters, the guard, diagnostics, standings, the arena's state."""
        return {
            "format": CHECKPOINT_FORMAT,
            "matching": self.completed,
            "rounds": self.rounds,
            "elapsed": self.elapsed,
            "metrics_lines": self.records,
            "divergence": self.guard.state_dict(),
            "diagnostics": self.diagnostics.state_dict(),
            "standings": self.standings.state_dict(),
            **({"league": self.league.state_dict()} if self.league.on else {}),
            **self.arena.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], global_rng: bool = True) -> None:
        """Continue from a checkpoint's state (``global_rng`` False: leave torch's global random
        state alone, for reading a run rather than continuing it).

        Raises:
            CheckpointError: the checkpoint was written by a newer version, in a format this one cannot read.
        """
        written = int(state.get("format", 1))
        if written > CHECKPOINT_FORMAT:
            raise CheckpointError(f"the checkpoint of matching {state.get('matching')} has format {written}, newer than "
                                  f"the {CHECKPOINT_FORMAT} this gan-arena reads; upgrade gan-arena to load it")
        self.arena.load_state_dict(state, global_rng)
        self.completed, self.rounds, self.elapsed = int(state["matching"]), int(state["rounds"]), float(state["elapsed"])
        self.records = int(state["metrics_lines"])
        self.guard.load_state_dict(state.get("divergence", {}))
        self.diagnostics.load_state_dict(state.get("diagnostics", {}))
        self.standings.load_state_dict(state.get("standings", {}), self.config.ratings.system)
        if self.league.on:
            self.league.load_state_dict(state.get("league", {}), self.arena.agent)

    # ------------------------------------------------------------------ the loop
    def run(self) -> None:
        """Play from the current matching to the end of the schedule (or to a requested stop)."""
        cfg = self.config
        if self.completed == 0:
            seed_global(cfg.seed)  # the one place torch's global generator (dropout) is seeded
        steps = cfg.schedule.steps_per_match
        pending: dict[tuple[str, str], dict[str, float]] = {}
        started = time.perf_counter()
        period_start, period_rounds = started, 0
        total = self.rounds_total
        self.callbacks.on_run_start(self)
        try:
            for k in range(self.completed, cfg.schedule.matchings):
                matching = self.matches_of(k)
                extra = self.league.matches(k, self.arena.generators, self.arena.discriminators, self.active)
                with self.timer.part("matches"):
                    outcomes = self.runner.play(matching, self.active, steps, extra)
                for outcome in outcomes:
                    position = (k * len(matching) + min(outcome.index + 1, len(matching))) * steps
                    period_rounds += self._record(outcome, pending)
                    self.callbacks.on_match_end(self, outcome, position, total)
                self.completed = k + 1
                if self.comm is not None:  # a stop asked for on any rank stops every rank here
                    self.stop_requested = self.comm.any(self.stop_requested)
                last = self.finished
                if self.completed % cfg.log.every == 0 or last:
                    now = time.perf_counter()
                    self._log_training(pending, now - period_start, period_rounds, self.elapsed + now - started)
                    pending, period_start, period_rounds = {}, now, 0
                if self.completed % cfg.review.every == 0 or last:
                    self.review()
                if self.completed % cfg.checkpoint.every == 0 or last or self.stop_requested:
                    self.elapsed += time.perf_counter() - started
                    started = time.perf_counter()
                    self.callbacks.on_checkpoint(self)
                if self.stop_requested and not last:
                    return
                self._check_roles_left()
            self.elapsed += time.perf_counter() - started
        finally:
            self.callbacks.on_run_end(self)

    def _log(self, record: dict[str, Any]) -> None:
        self.records += 1
        self.callbacks.on_log(self, record)

    def _record(self, outcome: Outcome, pending: dict) -> int:
        """Count a played match (standings, pending training metrics), or the failures of a voided
        one; the pair-rounds it played."""
        agents = {**self.arena.agents, **{snap.name: snap for snap in self.league.snapshots}}
        players = [agents[name] for name in (*outcome.generators, *outcome.discriminators)]
        if outcome.blamed:
            self._void_match(players, [(agents[name], reason) for name, reason in outcome.blamed])
            return 0
        if outcome.stats is None:
            return 0
        self.standings.count_match(players)
        acc = pending.setdefault((",".join(outcome.generators), ",".join(outcome.discriminators)), {"matches": 0})
        acc["matches"] += 1
        acc["batched"] = acc.get("batched", 0.0) + outcome.batched  # logged as the share of batched matches
        for key, value in outcome.stats.items():
            acc[key] = acc.get(key, 0.0) + value
        played = self.config.schedule.steps_per_match * len(outcome.generators) * len(outcome.discriminators)
        self.rounds += played
        return played

    def _void_match(self, players: list[Agent], blamed: list[tuple[Agent, str]]) -> None:
        """Count the failure of a diverged (and already undone) match against the agents to blame."""
        for agent, reason in blamed:
            record = self.guard.fail(agent, reason)
            opponents = [p.name for p in players if p.role != agent.role]
            record.update(matching=self.completed + 1, opponent=",".join(opponents))
            self._log(record)

    def _check_roles_left(self) -> None:
        for role, pool in (("generator", self.arena.generators), ("discriminator", self.arena.discriminators)):
            if all(self.guard.is_retired(a) for a in pool):
                self.callbacks.on_checkpoint(self)
                raise ArenaError(
                    f"every {role} has been retired after repeated divergence (see 'divergence' lines in metrics.jsonl); "
                    f"lower the learning rates or raise divergence.max_failures"
                )

    def _log_training(self, pending: dict, wall: float, rounds: int, elapsed: float) -> None:
        for (g, d), acc in pending.items():
            n = acc.pop("matches")
            record = {"kind": "train", "matching": self.completed, "rounds": self.rounds, "generator": g, "discriminator": d}
            record.update({key: value / n for key, value in acc.items()})
            record.update({"wall": wall, "rounds_per_s": rounds / wall if wall > 0 else None, "elapsed": elapsed})
            self._log(record)
            self._warn(self.diagnostics.on_train(g, d, record["d_loss"]))

    def _warn(self, messages: list[str]) -> None:
        for record in warning_records(self, messages):
            self._log(record)

    def review(self) -> Review:
        """Review now (:func:`arena.tournament.review.review`), log what the review found and
        hand it to the callbacks."""
        with self.timer.part("sampling & metrics"):  # its own time; its other steps are parts of their own
            found = review(self)
            for record in found.log:
                self._log(record)
            self.callbacks.on_review(self, found)
        return found
