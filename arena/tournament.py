"""The run loop: matchings of matches, metrics, evaluation, checkpoints.

The classic GAN is the 1 x 1 case: one generator, one discriminator, the same loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from arena.arena import Arena
from arena.checkpoint import load_checkpoint, save_checkpoint
from arena.diagnostics import Diagnostics, diversity
from arena.divergence import DivergenceGuard
from arena.errors import ArenaError
from arena.evaluate import draw_samples
from arena.faults import fault_point
from arena.match import play_match
from arena.metrics import mode_metrics
from arena.outputs import MetricsLog, save_samples_picture
from arena.rundir import METRICS_FILE, SAMPLES_DIR
from arena.schedule import make_schedule
from arena.seeding import derive_seed

__all__ = ["Tournament", "evaluate_generator"]

CHECKPOINT_FORMAT = 1


def evaluate_generator(arena: Arena, generator, n: int, seed: int) -> tuple[torch.Tensor, dict[str, float]]:
    """Draw ``n`` samples (eval mode, a generator of their own) and the data's quality metrics."""
    samples = draw_samples(generator, n, seed)
    metrics: dict[str, float] = {}
    if arena.data.modes is not None:
        metrics = mode_metrics(samples, arena.data.modes, arena.data.mode_std)
    return samples, metrics


class Tournament:
    """Plays a config's schedule in an arena, writing everything to ``run_dir``.

    Args:
        arena: the built arena.
        run_dir: where metrics, pictures and checkpoints go (None: nothing is written).
        on_progress: called after every match with ``(rounds_done, rounds_total, stats)``.
        on_event: called with a one-line message at each evaluation and checkpoint.
    """

    def __init__(
        self,
        arena: Arena,
        run_dir: Path | None = None,
        on_progress: Callable[[int, int, dict[str, float]], None] | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.arena = arena
        self.config = arena.config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.schedule = make_schedule(self.config.schedule.type, len(arena.generators), len(arena.discriminators))
        self.log = MetricsLog(self.run_dir / METRICS_FILE) if self.run_dir else None
        self.on_progress = on_progress or (lambda *a: None)
        self.on_event = on_event or (lambda msg: None)
        self.matching = 0  # matchings completed
        self.rounds = 0  # pair-rounds played
        self.elapsed = 0.0  # seconds of play before this process
        self.stop_requested = False
        div = self.config.divergence
        self.guard = DivergenceGuard(div.max_weight, div.lr_factor, div.max_failures, div.enabled)
        self.diagnostics = Diagnostics()
        arena.seed_loop()

    # ------------------------------------------------------------------ state
    @property
    def rounds_total(self) -> int:
        per = len(self.schedule.matching(0)) * self.config.schedule.steps_per_match
        return per * self.config.schedule.matchings

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "matching": self.matching,
            "rounds": self.rounds,
            "elapsed": self.elapsed,
            "metrics_lines": self.log.lines if self.log else 0,
            "divergence": self.guard.state_dict(),
            "diagnostics": self.diagnostics.state_dict(),
            **self.arena.state_dict(),
        }

    def resume(self) -> None:
        """Load the newest good checkpoint of ``run_dir`` and drop metrics written after it."""
        assert self.run_dir is not None
        state = load_checkpoint(self.run_dir)
        self.arena.load_state_dict(state)
        self.matching, self.rounds, self.elapsed = int(state["matching"]), int(state["rounds"]), float(state["elapsed"])
        self.guard.load_state_dict(state.get("divergence", {}))
        self.diagnostics.load_state_dict(state.get("diagnostics", {}))
        if self.log:
            self.log.truncate(int(state["metrics_lines"]))

    def checkpoint(self) -> None:
        if self.run_dir is not None:
            save_checkpoint(self.run_dir, self.state_dict(), self.matching, self.config.checkpoint.keep_last)

    # ------------------------------------------------------------------ the loop
    def run(self) -> None:
        """Play from the current matching to the end of the schedule."""
        cfg = self.config
        arena = self.arena
        steps = cfg.schedule.steps_per_match
        pending: dict[tuple[str, str], dict[str, float]] = {}
        started = time.perf_counter()
        period_start, period_rounds = started, 0
        for k in range(self.matching, cfg.schedule.matchings):
            matching = self.schedule.matching(k)
            for i, (gi, di) in enumerate(matching):
                g, d = arena.generators[gi], arena.discriminators[di]
                position = (k * len(matching) + i + 1) * steps
                if self.guard.is_retired(g) or self.guard.is_retired(d):
                    self.on_progress(position, self.rounds_total, {})
                    continue
                snapshot = self.guard.snapshot((g, d), arena.stream)
                stats = play_match(arena.game, g, d, arena.stream, steps)
                blamed = self.guard.check(stats, (g, d))
                if blamed:
                    self._void_match((g, d), snapshot, blamed)
                    self.on_progress(position, self.rounds_total, {})
                    continue
                acc = pending.setdefault((g.name, d.name), {"matches": 0})
                acc["matches"] += 1
                for key, value in stats.items():
                    acc[key] = acc.get(key, 0.0) + value
                self.rounds += steps
                period_rounds += steps
                self.on_progress(position, self.rounds_total, stats)
            self.matching = k + 1
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

    def _void_match(self, players: tuple, snapshot: dict | None, blamed: list) -> None:
        """Undo a diverged match entirely and count the failure against the agents to blame."""
        if snapshot is not None:
            self.guard.restore(players, self.arena.stream, snapshot)
        for agent, reason in blamed:
            record = self.guard.fail(agent, reason)
            opponent = players[1] if agent is players[0] else players[0]
            record.update(matching=self.matching + 1, opponent=opponent.name)
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
        for gi, g in enumerate(arena.generators):
            seed = derive_seed(cfg.seed, "eval", g.name, str(self.matching))
            samples, metrics = evaluate_generator(arena, g, cfg.eval.samples, seed)
            if arena.data.kind == "images":
                metrics["diversity"] = diversity(samples, arena.data.test)
            if metrics:
                metrics["quality"] = metrics.get("high_quality", metrics.get("diversity"))
                records.append({"kind": "eval", "matching": self.matching, "rounds": self.rounds, "agent": g.name, **metrics})
            if self.run_dir is not None:
                d = arena.discriminators[gi % len(arena.discriminators)]
                shown = samples[: cfg.eval.grid] if arena.data.kind == "images" else samples
                path = self.run_dir / SAMPLES_DIR / f"{g.name}-{self.matching:06d}.png"
                save_samples_picture(shown, path, arena.data, d.eval(), f"{g.name} after {self.rounds:,} rounds")
                d.train()
            fault_point("eval")
        if arena.data.shape == (1,):
            real = arena.data.test
            for d in arena.discriminators:
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
        return records
