"""Playing one matching: its matches one by one, batched on one device, or split across ranks.

Every match of a matching draws its real batches from its own fork of the data stream, as far
ahead as the matches before it would have drawn (:meth:`arena.data.DataStream.fork`), and its
generators draw latents from their own streams. So the matches are independent and give the
same numbers in any order: one after another, stacked (:mod:`arena.engine.batched`) or on other
ranks (:mod:`arena.engine.distributed`). The guard checks every match; a diverged match is undone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from agents import Agent
from arena.engine.arena import Arena
from arena.engine.batched import Kernels, batchable_game, play_batched, signature
from arena.engine.compute import Compute, Workload
from arena.engine.divergence import DivergenceGuard
from arena.engine.match import play_match
from arena.engine.team import TeamKernels, play_team, stackable_team
from games import Game
from games.base import Match

__all__ = ["Match", "Outcome", "MatchRunner", "stacking_size", "worth_stacking", "workload"]


CPU_STACKING_LIMIT = 40_000_000
"""``auto`` stacks matches on a CPU while parameters x batch size of each agent stays below this:
where stacking stops paying on a CPU, as benchmarks/throughput.py row e measures it (its current
figures in benchmarks/README.md)."""


def stacking_size(agents, batch_size: int) -> int:
    """What ``auto`` weighs on a CPU against :data:`CPU_STACKING_LIMIT`: the largest agent's
    parameters x batch size."""
    return max(a.num_parameters() for a in agents) * batch_size


def worth_stacking(mode: str, device, agents, batch_size: int) -> bool:
    """Whether stacking matches of ``agents`` pays: always when ``mode`` is ``batched`` and on a
    GPU; on other devices while an agent's forward pass is small (parameters x batch size <=
    :data:`CPU_STACKING_LIMIT`), where stacking saves the per-operation overhead that dominates,
    and not above, where the stacked products run no faster than one after another
    (benchmarks/throughput.py)."""
    return mode == "batched" or device.type == "cuda" or stacking_size(agents, batch_size) <= CPU_STACKING_LIMIT


def workload(arena: Arena, rounds: int) -> Workload:
    """What ``compute``'s ``auto`` weighs for a run of ``rounds`` pair-rounds in ``arena``: all of
    them stacked where its pair matches can be (one game played by its losses, agents of one
    signature per role that ``auto`` stacks on this device), none otherwise."""
    agents = (*arena.generators, *arena.discriminators)
    mode = arena.config.compute.execution
    stacks = (
        mode != "one-by-one"
        and batchable_game(arena.game)
        and all(signature(a) is not None for a in agents)
        and worth_stacking(mode, arena.device, agents, arena.config.schedule.batch_size)
    )
    return Workload(rounds if stacks else 0)


@dataclasses.dataclass
class Outcome:
    """What one match of a matching came to.

    Attributes:
        index: the match's position in the matching.
        generators, discriminators: names of the players who played (active ones).
        stats: mean round statistics; None for a match not played (a retired player) or voided.
        blamed: for a voided match, ``(agent name, reason)`` of each agent to blame.
        batched: whether the match was played in a stacked group.
    """

    index: int
    generators: list[str]
    discriminators: list[str]
    stats: dict[str, float] | None = None
    blamed: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    batched: bool = False


@dataclasses.dataclass
class _Planned:
    index: int
    gens: list[Agent]
    discs: list[Agent]
    game: Game
    skip: int  # batches drawn by the matches before this one


class MatchRunner:
    """Plays matchings in an arena, as ``compute.execution`` says.

    Args:
        arena: the arena.
        guard: the divergence guard (checks and undoes matches; the caller counts failures).
        compute: the run's compute options.
        comm: the ranks of a distributed run (:class:`arena.engine.distributed.Comm`; None: this
            process plays every match).
    """

    def __init__(self, arena: Arena, guard: DivergenceGuard, compute: Compute, comm=None) -> None:
        self.arena, self.guard, self.compute, self.comm = arena, guard, compute, comm
        self.mode = arena.config.compute.execution
        self.kernels: dict[tuple, Kernels] = {}
        self.team_kernels: dict[tuple, TeamKernels] = {}

    def play(self, matching: Sequence[Match], active: Callable[[Agent], bool], steps: int,
             extra: Sequence[tuple[Sequence[Agent], Sequence[Agent]]] = ()) -> list[Outcome]:
        """Play every match of ``matching`` (``steps`` rounds each) and then the ``extra`` matches
        (given by their players: a league's matches against frozen snapshots); the outcomes in
        match order, identical on every rank."""
        arena = self.arena
        plan: list[_Planned] = []
        skipped: list[Outcome] = []
        drawn = 0
        players = [([arena.generators[gi] for gi in gis], [arena.discriminators[di] for di in dis]) for gis, dis in matching]
        for i, (all_gens, all_discs) in enumerate([*players, *extra]):
            gens = [g for g in all_gens if active(g)]
            discs = [d for d in all_discs if active(d)]
            if not gens or not discs:
                skipped.append(Outcome(i, [g.name for g in gens], [d.name for d in discs]))
                continue
            game = arena.game_for(gens[0], discs[0]) if len(gens) + len(discs) == 2 else arena.game
            plan.append(_Planned(i, gens, discs, game, drawn))
            drawn += steps * game.d_steps
        mine = plan if self.comm is None else self.comm.share(plan)
        outcomes: list[Outcome] = []
        for key, group in self._groups(mine):
            stacked = key is not None and (len(group) > 1 or self.compute.compile_mode is not False)
            outcomes += self._play_group(key, group, steps) if stacked else [self._play_one(group[0], steps)]
        if self.comm is not None:
            outcomes = self.comm.exchange(outcomes, arena)
        arena.stream.advance(drawn)
        return sorted(outcomes + skipped, key=lambda o: o.index)

    def _groups(self, plan: list[_Planned]) -> list[tuple[tuple | None, list[_Planned]]]:
        """Matches that can be stacked, grouped by their key (the game and the pair of
        signatures); every other match alone, with key None."""
        if not self._may_stack():
            return [(None, [p]) for p in plan]
        groups: dict[tuple, list[_Planned]] = {}
        alone: list[tuple[None, list[_Planned]]] = []
        for p in plan:
            key = None
            if len(p.gens) == len(p.discs) == 1 and batchable_game(p.game):
                sg, sd = signature(p.gens[0]), signature(p.discs[0])
                if sg is not None and sd is not None and self._worth_stacking(p):
                    key = (id(p.game), sg, sd)
            if key is None:
                alone.append((None, [p]))
            else:
                groups.setdefault(key, []).append(p)
        return [*groups.items(), *alone]

    def _may_stack(self) -> bool:
        """Whether this run stacks anything: not under ``execution: one-by-one``, nor with fp16's
        loss scaling (stacked updates scale no losses)."""
        return self.mode != "one-by-one" and not self.compute.loss_scaling

    def _worth_stacking(self, p: _Planned) -> bool:
        """Whether stacking this match pays (:func:`worth_stacking`)."""
        return worth_stacking(self.mode, self.arena.device, (p.gens[0], p.discs[0]), self.arena.config.schedule.batch_size)

    def _play_one(self, p: _Planned, steps: int) -> Outcome:
        players = (*p.gens, *p.discs)
        snapshot = self.guard.snapshot(players)
        team = self._team(p)
        with self.compute.autocast():
            if team is not None:  # GMAN: its discriminators stacked
                stats = play_team(team, p.gens[0], p.discs, self.arena.stream.fork(p.skip), steps)
            else:
                stats = play_match(p.game, p.gens, p.discs, self.arena.stream.fork(p.skip), steps)
        outcome = self._checked(p, players, stats, snapshot)
        outcome.batched = team is not None
        return outcome

    def _team(self, p: _Planned) -> TeamKernels | None:
        """The stacked functions that play ``p``'s discriminators at once (:mod:`arena.engine.team`),
        where the execution mode, the game and the players allow it and it pays (:func:`worth_stacking`);
        None: the match is played one by one."""
        if not self._may_stack() or not stackable_team(p.game, p.gens, p.discs):
            return None
        if not worth_stacking(self.mode, self.arena.device, p.discs, self.arena.config.schedule.batch_size):
            return None
        key = (id(p.game), signature(p.discs[0]))
        if key not in self.team_kernels:
            self.team_kernels[key] = TeamKernels(p.game, p.discs[0])
        return self.team_kernels[key]

    def _play_group(self, key: tuple, group: list[_Planned], steps: int) -> list[Outcome]:
        snapshots = [self.guard.snapshot((*p.gens, *p.discs)) for p in group]
        streams = [self.arena.stream.fork(p.skip) for p in group]
        first = group[0]
        if key not in self.kernels:
            self.kernels[key] = Kernels(first.game, first.gens[0], first.discs[0], self.compute.compiled,
                                        fused=self.compute.compile_mode is not False,
                                        static=self.compute.compile_mode == "reduce-overhead")
        all_stats = play_batched(self.kernels[key], [p.gens[0] for p in group], [p.discs[0] for p in group], streams,
                                 steps, self.compute.autocast)
        outcomes = []
        for p, stats, snapshot in zip(group, all_stats, snapshots):
            outcome = self._checked(p, (*p.gens, *p.discs), stats, snapshot, restore_rng=False)
            outcome.batched = True
            outcomes.append(outcome)
        return outcomes

    def _checked(self, p: _Planned, players: tuple, stats: dict[str, float], snapshot, restore_rng: bool = True) -> Outcome:
        outcome = Outcome(p.index, [g.name for g in p.gens], [d.name for d in p.discs])
        blamed = self.guard.check(stats, players)
        if blamed:
            if snapshot is not None:
                self.guard.restore(players, snapshot, restore_rng)
            outcome.blamed = [(agent.name, reason) for agent, reason in blamed]
        else:
            outcome.stats = stats
        return outcome
