"""The run loop: matchings of matches, metrics, evaluation, checkpoints.

A tournament plays its schedule's matchings; every ``eval.every`` matchings it evaluates
every generator, plays every generator against every discriminator (the payoff matrix),
rates all agents, selects and mixes (:mod:`arena.tournament.standings`). The classic GAN is the 1 x 1
case: one generator, one discriminator, the same loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from arena.engine.arena import Arena
from arena.rundir.checkpoint import load_checkpoint, save_checkpoint
from arena.engine.compute import Compute
from arena.evaluation.diagnostics import Diagnostics, diversity
from arena.engine.divergence import DivergenceGuard
from arena.core.errors import ArenaError
from arena.evaluation.measure import draw_samples
from arena.engine.execution import MatchRunner, Outcome
from arena.core.faults import fault_point
from arena.rundir.pictures import MetricsLog, save_samples_picture
from arena.rundir.rundir import METRICS_FILE, SAMPLES_DIR
from arena.tournament.schedules import make_schedule
from arena.core.seeding import derive_seed
from arena.tournament.standings import Standings, quality_metrics

__all__ = ["Tournament", "evaluate_generator"]

CHECKPOINT_FORMAT = 1


def evaluate_generator(arena: Arena, generator, n: int, seed: int) -> tuple[torch.Tensor, dict[str, float]]:
    """Draw ``n`` samples (eval mode, a generator of their own) and the data's quality metrics."""
    samples = draw_samples(generator, n, seed)
    return samples, quality_metrics(arena, samples)


Match = tuple[tuple[int, ...], tuple[int, ...]]
"""Generator indices and discriminator indices of one match (one of each, except in multi-player games)."""


class Tournament:
    """Plays a config's schedule in an arena, writing everything to ``run_dir``.

    Args:
        arena: the built arena.
        run_dir: where metrics, pictures and checkpoints go (None: nothing is written).
        on_progress: called after every match with ``(rounds_done, rounds_total, stats)``.
        on_event: called with a one-line message at each evaluation and checkpoint.
        on_leaderboard: called with the leaderboard's rows and the mixture after each evaluation.
        comm: the ranks of a distributed run (:mod:`arena.engine.distributed`); every rank plays its share
            of each matching and keeps every agent, and only rank 0 writes to ``run_dir``.
    """

    def __init__(
        self,
        arena: Arena,
        run_dir: Path | None = None,
        on_progress: Callable[[int, int, dict[str, float]], None] | None = None,
        on_event: Callable[[str], None] | None = None,
        on_leaderboard: Callable[[list[dict[str, Any]], dict[str, Any] | None], None] | None = None,
        comm=None,
    ) -> None:
        self.arena = arena
        self.config = arena.config
        self.source = Path(run_dir) if run_dir is not None else None
        writes = comm is None or comm.rank == 0
        self.run_dir = self.source if writes else None
        self.schedule = make_schedule(self.config.schedule.type, len(arena.generators), len(arena.discriminators), self.config.seed)
        self.standings = Standings(arena, self.run_dir)
        self.on_leaderboard = on_leaderboard or (lambda rows, mixture: None)
        self.log = MetricsLog(self.run_dir / METRICS_FILE) if self.run_dir else None
        self.on_progress = on_progress or (lambda *a: None)
        self.on_event = on_event or (lambda msg: None)
        self.matching = 0  # matchings completed
        self.rounds = 0  # pair-rounds played
        self.elapsed = 0.0  # seconds of play before this process
        self.stop_requested = False
        div = self.config.divergence
        self.guard = DivergenceGuard(div.max_weight, div.lr_factor, div.max_failures, div.enabled)
        self.compute = Compute(self.config.compute, arena.device)
        self.compute.prepare(arena.agents.values())
        self.runner = MatchRunner(arena, self.guard, self.compute, comm)
        self.diagnostics = Diagnostics()
        arena.seed_loop()

    # ------------------------------------------------------------------ state
    def matching_at(self, k: int) -> list[Match]:
        """The matches of matching ``k``: the schedule's pairs, or for a multi-player game one
        team in turn (GMAN: generator ``k mod N`` against every discriminator; MAD-GAN: every
        generator against discriminator ``k mod M``)."""
        n, m = len(self.arena.generators), len(self.arena.discriminators)
        team = self.arena.game.team
        if team == ("one", "all"):
            return [((k % n,), tuple(range(m)))]
        if team == ("all", "one"):
            return [(tuple(range(n)), (k % m,))]
        ranking = self.standings.ranking() if self.schedule.uses_ranking else None
        return [((gi,), (di,)) for gi, di in self.schedule.matching(k, ranking)]

    @property
    def rounds_total(self) -> int:
        per = len(self.matching_at(0)) * self.config.schedule.steps_per_match
        return per * self.config.schedule.matchings

    def active(self, agent) -> bool:
        return not self.guard.is_retired(agent)

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "matching": self.matching,
            "rounds": self.rounds,
            "elapsed": self.elapsed,
            "metrics_lines": self.log.lines if self.log else 0,
            "divergence": self.guard.state_dict(),
            "diagnostics": self.diagnostics.state_dict(),
            "standings": self.standings.state_dict(),
            **self.arena.state_dict(),
        }

    def resume(self) -> None:
        """Load the newest good checkpoint of ``run_dir`` and drop metrics written after it."""
        assert self.source is not None
        state = load_checkpoint(self.source)
        self.arena.load_state_dict(state)
        self.matching, self.rounds, self.elapsed = int(state["matching"]), int(state["rounds"]), float(state["elapsed"])
        self.guard.load_state_dict(state.get("divergence", {}))
        self.diagnostics.load_state_dict(state.get("diagnostics", {}))
        self.standings.load_state_dict(state.get("standings", {}))
        if self.log:
            self.log.truncate(int(state["metrics_lines"]))

    def checkpoint(self) -> None:
        if self.run_dir is not None:
            save_checkpoint(self.run_dir, self.state_dict(), self.matching, self.config.checkpoint.keep_last)

    # ------------------------------------------------------------------ the loop
    def run(self) -> None:
        """Play from the current matching to the end of the schedule."""
        cfg = self.config
        steps = cfg.schedule.steps_per_match
        pending: dict[tuple[str, str], dict[str, float]] = {}
        started = time.perf_counter()
        period_start, period_rounds = started, 0
        total = self.rounds_total
        for k in range(self.matching, cfg.schedule.matchings):
            matching = self.matching_at(k)
            for outcome in self.runner.play(matching, self.active, steps):
                position = (k * len(matching) + outcome.index + 1) * steps
                played = self._record(outcome, pending)
                period_rounds += played
                self.on_progress(position, total, outcome.stats or {})
            self.matching = k + 1
            if self.runner.comm is not None:  # a stop asked for on any rank stops every rank here
                self.stop_requested = self.runner.comm.any(self.stop_requested)
            last = self.matching == cfg.schedule.matchings
            if self.matching % cfg.log.every == 0 or last:
                now = time.perf_counter()
                self._log_training(pending, now - period_start, period_rounds, self.elapsed + now - started)
                pending, period_start, period_rounds = {}, now, 0
            if self.matching % cfg.eval.every == 0 or last:
                self.evaluate()
            if self.matching % cfg.checkpoint.every == 0 or last or self.stop_requested:
                self.elapsed += time.perf_counter() - started
                started = time.perf_counter()
                self.checkpoint()
                self.on_event(f"checkpoint after matching {self.matching}")
            if self.stop_requested and not last:
                return
            self._check_roles_left()
        self.elapsed += time.perf_counter() - started

    def _record(self, outcome: Outcome, pending: dict) -> int:
        """Count a played match (standings, pending training metrics), or the failures of a voided
        one; the pair-rounds it played."""
        agents = self.arena.agents
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

    def _void_match(self, players: list, blamed: list) -> None:
        """Count the failure of a diverged (and already undone) match against the agents to blame."""
        for agent, reason in blamed:
            record = self.guard.fail(agent, reason)
            opponents = [p.name for p in players if p.role != agent.role]
            record.update(matching=self.matching + 1, opponent=",".join(opponents))
            if self.log:
                self.log.write(record)
            self.on_event(
                f"divergence: {agent.name}: {reason}; match voided, "
                + ("agent retired" if record["action"] == "retired" else f"learning rate lowered to {record['lr']:.3g}")
            )

    def _check_roles_left(self) -> None:
        for role, pool in (("generator", self.arena.generators), ("discriminator", self.arena.discriminators)):
            if all(self.guard.is_retired(a) for a in pool):
                self.checkpoint()
                raise ArenaError(
                    f"every {role} has been retired after repeated divergence (see 'divergence' lines in metrics.jsonl); "
                    f"lower the learning rates or raise divergence.max_failures"
                )

    def _log_training(self, pending: dict, wall: float, rounds: int, elapsed: float) -> None:
        if not self.log:
            return
        for (g, d), acc in pending.items():
            n = acc.pop("matches")
            record = {"kind": "train", "matching": self.matching, "rounds": self.rounds, "generator": g, "discriminator": d}
            record.update({key: value / n for key, value in acc.items()})
            record.update({"wall": wall, "rounds_per_s": rounds / wall if wall > 0 else None, "elapsed": elapsed})
            self.log.write(record)
            self._warn(self.diagnostics.on_train(g, d, record["d_loss"]))

    def _warn(self, messages: list[str]) -> None:
        for message in messages:
            if self.log:
                self.log.write({"kind": "warning", "matching": self.matching, "rounds": self.rounds, "message": message})
            self.on_event(f"warning: {message}")

    def evaluate(self) -> list[dict[str, Any]]:
        """Quality metrics of every generator and a picture of its samples; logged and returned."""
        arena, cfg = self.arena, self.config
        records = []
        drawn: dict[str, torch.Tensor] = {}
        for gi, g in enumerate(arena.generators):
            seed = derive_seed(cfg.seed, "eval", g.name, str(self.matching))
            samples, metrics = evaluate_generator(arena, g, cfg.eval.samples, seed)
            drawn[g.name] = samples
            if arena.data.kind == "images":
                metrics["diversity"] = diversity(samples, arena.data.test)
            if metrics:
                metrics.setdefault("quality", metrics.get("high_quality", metrics.get("diversity")))
                records.append({"kind": "eval", "matching": self.matching, "rounds": self.rounds, "agent": g.name, **metrics})
            if self.run_dir is not None:
                d = arena.discriminators[gi % len(arena.discriminators)]
                shown = samples[: cfg.eval.grid] if arena.data.kind == "images" else samples
                path = self.run_dir / SAMPLES_DIR / f"{g.name}-{self.matching:06d}.png"
                judge = d.eval() if d.action_space.shape == (1,) else None
                save_samples_picture(shown, path, arena.data, judge, f"{g.name} after {self.rounds:,} rounds")
                d.train()
            fault_point("eval")
        if arena.data.shape == (1,):
            real = arena.data.test
            for d in arena.discriminators:
                if d.action_space.shape != (1,):
                    continue
                d.eval()
                with torch.no_grad():
                    p = torch.sigmoid(d(real))
                d.train()
                gap = float((p - 0.5).abs().mean())
                records.append({
                    "kind": "eval", "matching": self.matching, "rounds": self.rounds, "agent": d.name,
                    "d_real": float(p.mean()), "d_gap": gap, "quality": 1 - 2 * gap,
                })
        for record in records:
            if self.log:
                self.log.write(record)
            shown = ", ".join(f"{k} {v:.3g}" for k, v in record.items() if k not in ("kind", "matching", "rounds", "agent"))
            if shown:
                self.on_event(f"matching {self.matching}: {record['agent']}: {shown}")
            self._warn(self.diagnostics.on_eval(record["agent"], record))
        self._standings(drawn, {r["agent"]: {k: v for k, v in r.items() if k not in ("kind", "matching", "rounds", "agent")}
                                for r in records})
        return records

    def _standings(self, drawn: dict[str, torch.Tensor], metrics: dict[str, dict[str, float]]) -> None:
        """Cross-play, ratings, selection and the mixture after an evaluation; logged and shown."""
        last = self.matching == self.config.schedule.matchings
        out = self.standings.update(self.matching, self.rounds, drawn, metrics, self.active, last)
        stamp = {"matching": self.matching, "rounds": self.rounds}
        mixture = out["mixture"]
        if self.log:
            self.log.write({"kind": "payoff", **stamp, **{k: out["payoff"][k] for k in ("generators", "discriminators", "payoff")}})
            for record in out["lineage"]:
                self.log.write({"kind": "selection", **stamp, **record})
        if self.log and len(self.arena.generators) > 1:
            self.log.write({"kind": "eval", **stamp, "agent": "mixture", **mixture["metrics"],
                            "components": mixture["components"], "weights": mixture["weights"]})
        for record in out["lineage"]:
            if record["parent"]:
                self.on_event(f"selection: {record['replaced']} is now a copy of {record['parent']} (lr {record['lr']:.3g})")
        rows = self.standings.write_files(self.guard, self.matching, self.rounds)
        self.on_leaderboard(rows, self.standings.mixture)
