"""The tournament loop: matchings of matches, training metrics, evaluations, checkpoints.

A tournament plays its schedule's matchings. Every ``eval.every`` matchings it evaluates: it
draws every generator's samples and measures them, plays every generator against every
discriminator on held-out data (the payoff matrix), rates all agents, selects when due, and
chooses the mixture. The classic GAN is the 1 x 1 case: one generator, one discriminator, the
same loop. The loop knows nothing of files or terminals; it hands what happens to its
callbacks (:mod:`arena.tournament.callbacks`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from typing import Any

import torch

from agents import Agent
from arena.core.errors import ArenaError
from arena.core.faults import NO_FAULTS, Faults
from arena.core.seeding import derive_seed, seed_global
from arena.engine.arena import Arena
from arena.engine.compute import Compute
from arena.engine.divergence import DivergenceGuard
from arena.engine.execution import Match, MatchRunner, Outcome
from arena.evaluation.diagnostics import Diagnostics
from arena.evaluation.protocol import protocol
from arena.evaluation.sampling import draw_samples
from arena.output.mixture import Candidates, Mixture, mixture_weights
from arena.output.sampler import PanelExhausted, calibrated_panel
from arena.tournament.callbacks import Callback, CallbackList, Evaluation
from arena.tournament.crossplay import payoff_matrix
from arena.tournament.leaderboard import standings_rows
from arena.tournament.league import League
from arena.tournament.schedules import make_schedule
from arena.tournament.selection import select
from arena.tournament.standings import Standings

__all__ = ["Tournament", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = 1

_STAMP = ("kind", "matching", "rounds", "agent", "protocol")


class Tournament:
    """Plays a config's schedule in an arena and tells its callbacks what happens.

    Args:
        arena: the built arena.
        callbacks: called at fixed points of the loop (:class:`arena.tournament.Callback`).
        comm: the ranks of a distributed run (:mod:`arena.engine.distributed`); every rank plays
            its share of each matching and keeps every agent.
        faults: crash-safety tests only: where to kill the process (:class:`arena.core.faults.Faults`).
    """

    def __init__(self, arena: Arena, callbacks: Iterable[Callback] = (), comm=None, faults: Faults = NO_FAULTS) -> None:
        self.arena = arena
        self.config = arena.config
        self.callbacks = CallbackList(callbacks)
        self.comm = comm
        self.faults = faults
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
        self.compute = Compute(self.config.compute, arena.device)
        self.compute.prepare(arena.agents.values())
        self.runner = MatchRunner(arena, self.guard, self.compute, comm, faults)
        self.diagnostics = Diagnostics()

    # ------------------------------------------------------------------ reading
    def matches_of(self, k: int) -> list[Match]:
        """The matches of matching ``k``: the schedule's pairs, or for a multi-player game one
        team in turn (GMAN: generator ``k mod N`` against every discriminator; MAD-GAN: every
        generator against discriminator ``k mod M``)."""
        n, m = len(self.arena.generators), len(self.arena.discriminators)
        team = self.arena.game.team
        if team == ("one", "all"):
            return [((k % n,), tuple(range(m)))]
        if team == ("all", "one"):
            return [(tuple(range(n)), (k % m,))]
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
        return not self.guard.is_retired(agent)

    def leaderboard(self) -> list[dict[str, Any]]:
        """The leaderboard's rows now (the league's snapshots among them)."""
        arena = self.arena
        return standings_rows([*arena.generators, *self.league.generators, *arena.discriminators, *self.league.discriminators],
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
        state alone, for reading a run rather than continuing it)."""
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
                for outcome in self.runner.play(matching, self.active, steps, extra):
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
                if self.completed % cfg.eval.every == 0 or last:
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
        for message in messages:
            self._log({"kind": "warning", "matching": self.completed, "rounds": self.rounds, "message": message})

    # ------------------------------------------------------------------ evaluation
    def review(self) -> Evaluation:
        """Evaluate now: every generator's samples and metrics, cross-play, ratings, selection
        when due, the mixture. Logs what it finds and hands it to the callbacks."""
        arena, cfg, kind = self.arena, self.config, self.arena.data.kind
        stamp = {"matching": self.completed, "rounds": self.rounds}
        measured = protocol(cfg.eval.samples, "derived")
        samples: dict[str, torch.Tensor] = {}
        records = []
        for g in arena.generators:
            seed = derive_seed(cfg.seed, "eval", g.name, str(self.completed))
            samples[g.name] = draw_samples(g.output(), cfg.eval.samples, seed)
            metrics = kind.signal(samples[g.name], arena.data)
            if metrics:
                records.append({"kind": "eval", **stamp, "agent": g.name, **metrics, "protocol": measured})
            self.faults.hit("eval")
        for snap in self.league.generators:  # snapshots are judged in cross-play like everyone else
            samples[snap.name] = draw_samples(snap, cfg.eval.samples, derive_seed(cfg.seed, "eval", snap.name, str(self.completed)))
        for name, metrics in kind.discriminator_signal(arena.discriminators, arena.data):
            records.append({"kind": "eval", **stamp, "agent": name, **metrics,
                            "protocol": protocol(arena.data.test.shape[0], "none")})
        for record in records:
            self._log(record)
            self._warn(self.diagnostics.on_eval(record["agent"], record))
        self.standings.metrics.update({r["agent"]: {k: v for k, v in r.items() if k not in _STAMP} for r in records})
        period = self._cross_play(samples)
        lineage = self._select() if cfg.selection.every and self.completed % cfg.selection.every == 0 and not self.finished else []
        mixture = self._mix(samples)
        snapshots = self._snapshot() if self.league.due(self.completed) and not self.finished else []
        self._log({"kind": "payoff", **stamp, **{k: period[k] for k in ("generators", "discriminators", "payoff")}})
        for record in lineage:
            self._log({"kind": "selection", **stamp, **record})
        for record in snapshots:
            self._log({"kind": "snapshot", **stamp, **record})
        if len(arena.generators) > 1:
            self._log({"kind": "eval", **stamp, "agent": "mixture", **mixture["metrics"],
                       "components": mixture["components"], "weights": mixture["weights"], "protocol": measured})
        if "panel" in mixture and "failed" not in mixture["panel"]:
            panel = mixture["panel"]
            self._log({"kind": "eval", **stamp, "agent": "output", **panel["metrics"], "acceptance": panel["acceptance"],
                       "judges": panel["judges"], "protocol": measured})
        evaluation = Evaluation(self.completed, self.rounds, samples, records, period, lineage, mixture, self.leaderboard())
        self.callbacks.on_evaluation(self, evaluation)
        return evaluation

    def _cross_play(self, samples: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Every generator against every discriminator on held-out data (the league's snapshots
        included); the period is recorded and every rating recomputed."""
        arena, cfg = self.arena, self.config
        real = arena.data.test[: cfg.eval.samples]
        stack = True if cfg.compute.matchings == "batched" else None
        gens = [*arena.generators, *self.league.generators]
        discs = [*arena.discriminators, *self.league.discriminators]
        payoff = payoff_matrix(gens, discs, samples, real, arena.game_for, self.active, stack, cfg.ratings.judge)
        period = {
            "matching": self.completed,
            "rounds": self.rounds,
            "generators": [self.standings.identity(g) for g in gens],
            "discriminators": [self.standings.identity(d) for d in discs],
            "payoff": payoff,
        }
        self.standings.add_results(period, cfg.ratings.system)
        self.standings.record_scores(gens, discs, payoff)
        return period

    def _snapshot(self) -> list[dict[str, Any]]:
        """Freeze copies of the best-rated generator and discriminator into the league."""
        arena, rating = self.arena, self.standings.rating
        best = [max((a for a in pool if self.active(a)), key=rating) for pool in (arena.generators, arena.discriminators)
                if any(self.active(a) for a in pool)]
        return self.league.take(best, self.completed)

    def _select(self) -> list[dict[str, Any]]:
        """Replace the worst agents of each role by mutated copies of the best."""
        arena, cfg = self.arena, self.config
        rng = torch.Generator().manual_seed(derive_seed(cfg.seed, "selection", str(self.completed)))
        pools = {"generator": arena.generators, "discriminator": arena.discriminators}
        records = select(pools, self.standings.rating, cfg.selection, rng, self.active)
        for record in records:
            record["matching"] = self.completed
        self.standings.record_selection(records, arena.agents)
        return records

    def _mix(self, samples: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Choose the mixture of the best-rated generators and measure it on fresh samples."""
        arena, cfg, standings = self.arena, self.config, self.standings
        ranked = sorted((g for g in arena.generators if self.active(g)), key=standings.rating, reverse=True)
        top = ranked[: cfg.mixture.top] if cfg.mixture.top else ranked
        latest = standings.results[-1]["payoff"] if standings.results else []
        candidates = Candidates(
            generators=top,
            ratings={g.name: standings.rating(g) for g in top},
            samples=samples,
            quality={g.name: standings.metrics.get(g.name, {}).get("quality", 0.0) for g in top},
            kind=arena.data.kind,
            payoff={g.name: row for g, row in zip(arena.generators, latest)},
            heldout=arena.data.splits.get("valid", arena.data.test),
        )
        weights = mixture_weights(cfg.mixture.weights, candidates)
        kept = [(g, w) for g, w in zip(top, weights) if w >= 1e-4]  # a fitted weight may fall to ~0
        mixture = Mixture([g.output() for g, _ in kept], [w for _, w in kept])
        drawn = draw_samples(mixture, cfg.eval.samples, derive_seed(cfg.seed, "eval", "mixture", str(self.completed)))
        standings.mixture = {**mixture.as_dict(), "matching": self.completed, "metrics": arena.data.kind.metrics(drawn, arena.data)}
        if cfg.panel.enabled:
            standings.mixture["panel"] = self._panel(mixture)
        return standings.mixture

    def _panel(self, mixture: Mixture) -> dict[str, Any]:
        """Calibrate the discriminator panel over the mixture and measure the output it gives."""
        arena, cfg = self.arena, self.config
        ranked = sorted((d for d in arena.discriminators if self.active(d)), key=self.standings.rating, reverse=True)
        judges = ranked[: cfg.panel.judges] if cfg.panel.judges else ranked
        sampler = calibrated_panel(mixture, judges, cfg.panel, arena.data, derive_seed(cfg.seed, "panel", str(self.completed)))
        try:
            drawn = draw_samples(sampler, cfg.eval.samples, derive_seed(cfg.seed, "eval", "output", str(self.completed)))
        except PanelExhausted as e:  # a poor generator early in training must not end the run
            warnings.warn(f"matching {self.completed}: {e}. This evaluation measures the mixture unfiltered; "
                          f"`arena sample --no-panel` draws it", stacklevel=2)
            return {**sampler.panel.state(), "acceptance": sampler.acceptance_rate, "failed": str(e)}
        return {**sampler.panel.state(), "acceptance": sampler.acceptance_rate, "metrics": arena.data.kind.metrics(drawn, arena.data)}
