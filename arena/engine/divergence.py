"""Divergence handling: a NaN or inf loss, or exploding weights, voids the match instead of ending the run.

Before every match the guard snapshots its players and the global random state. If the match
diverges, both are restored, so the match leaves no trace (its real batches stay drawn: every
match draws from its own fork of the data stream, :meth:`arena.data.DataStream.fork`); the agent
to blame (the one whose weights are non-finite or too large, or both where the weights look
sound but a loss is not finite) has its learning rate lowered, and after ``max_failures``
failures it is retired and plays no more.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from agents import Agent
from arena.core.tensors import clone_tensors, map_tensors

__all__ = ["DivergenceGuard"]


class DivergenceGuard:
    """Tracks failures and retirements; see the module docstring.

    Args:
        max_weight: a parameter with absolute value above this counts as exploding.
        lr_factor: multiplies the blamed agent's learning rate after each failure.
        max_failures: failures after which an agent is retired.
        enabled: with False, nothing is checked or snapshotted.
        device: the arena's device; on CUDA its random state is saved and restored with the
            global one (that of this device, not of whichever device is current).
    """

    def __init__(self, max_weight: float, lr_factor: float, max_failures: int, enabled: bool = True,
                 device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.max_weight = max_weight
        self.lr_factor = lr_factor
        self.max_failures = max_failures
        self.enabled = enabled
        self.failures: dict[str, int] = {}
        self.retired: list[str] = []

    def is_retired(self, agent: Agent) -> bool:
        return agent.name in self.retired

    def failures_of(self, agent: Agent) -> int:
        """How many of ``agent``'s matches have been voided."""
        return self.failures.get(agent.name, 0)

    def snapshot(self, agents: tuple[Agent, ...]) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        # tensors cloned (in one copy per dtype), the rest shared: several times faster than
        # copy.deepcopy, and every match pays for it
        return clone_tensors({
            "agents": [a.state_dict() for a in agents],
            "rng": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
        })

    def restore(self, agents: tuple[Agent, ...], snap: dict[str, Any], rng: bool = True) -> None:
        """Put ``agents`` back as :meth:`snapshot` found them (and the global random state, with ``rng``)."""
        for agent, state in zip(agents, snap["agents"]):
            # cloned apart: the snapshot's tensors are views of one buffer, and an optimizer keeps
            # the tensors it loads (a checkpoint of a view saves its whole buffer)
            agent.load_state_dict(map_tensors(state, torch.clone))
        if not rng:
            return
        torch.set_rng_state(snap["rng"])
        if snap["cuda"] is not None:
            torch.cuda.set_rng_state(snap["cuda"], self.device)

    def weight_problem(self, agent: Agent) -> str | None:
        """Why ``agent``'s weights are unusable (the first parameter whose largest magnitude is not
        finite or is above ``max_weight``), or None. One host synchronisation for the agent,
        not two per parameter: on a GPU each one waits for every queued kernel."""
        named = [(name, p) for name, p in agent.net.named_parameters() if p.numel()]
        if not named:
            return None
        with torch.no_grad():
            largest = torch.stack([p.abs().amax().float() for _, p in named]).tolist()
        for (name, _), value in zip(named, largest):
            if not math.isfinite(value):
                return f"non-finite weights in {name}"
            if value > self.max_weight:
                return f"exploding weights in {name} (|w| = {value:.3g} > {self.max_weight:g})"
        return None

    def check(self, stats: dict[str, float], agents: tuple[Agent, ...]) -> list[tuple[Agent, str]]:
        """The agents to blame for this match, each with a reason; empty when the match is sound."""
        if not self.enabled:
            return []
        blamed = [(a, why) for a in agents if (why := self.weight_problem(a))]
        if blamed:
            return blamed
        bad = [k for k, v in stats.items() if not math.isfinite(v)]
        if bad:
            return [(a, f"non-finite {', '.join(bad)}") for a in agents]
        return []

    def fail(self, agent: Agent, reason: str) -> dict[str, Any]:
        """Count a failure: lower the learning rate, retire after ``max_failures``. Returns a log record."""
        n = self.failures.get(agent.name, 0) + 1
        self.failures[agent.name] = n
        retired = n >= self.max_failures
        if retired:
            self.retired.append(agent.name)
        else:
            agent.optimizer.set_base_lr(agent.optimizer.base_lr * self.lr_factor)
        return {
            "kind": "divergence",
            "agent": agent.name,
            "reason": reason,
            "failures": n,
            "action": "retired" if retired else "rolled back",
            "lr": agent.optimizer.base_lr,
        }

    def state_dict(self) -> dict[str, Any]:
        return {"failures": dict(self.failures), "retired": list(self.retired)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.failures = dict(state.get("failures", {}))
        self.retired = list(state.get("retired", []))
