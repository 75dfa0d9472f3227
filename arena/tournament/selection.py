"""Selection (population-based training): the worst agents of each role are replaced by
copies of the best, weights and optimizer state included, with mutated hyper-parameters.

A copy keeps the replaced agent's name and random stream; its rating identity changes
(``g3`` becomes ``g3@1``), so the copy is rated afresh rather than inheriting the record of
the agent it replaced. Every replacement is a lineage record.

Generators may instead be ranked by the diversity of their samples (``selection.by:
diversity``, images): only a collapsed one is replaced, by a copy of the most diverse. That reads
no labels, and it sees what a weak discriminator's ratings miss: a generator that draws one
convincing image every time is rated well by per-sample calls (benchmarks/RESULTS.md, Stacked
MNIST), so selection by rating copies the collapse over its healthy rivals.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from agents import Agent, Generator

if TYPE_CHECKING:  # pragma: no cover
    from arena.config import SelectionConfig

__all__ = ["compatible", "copy_agent", "mutate", "select", "select_collapsed", "spread"]


def compatible(a: Agent, b: Agent) -> bool:
    """Whether ``b``'s weights and optimizer state fit ``a``: the same parameter and buffer
    shapes, the same optimizer type and, for generators, the same latent prior."""
    sa, sb = a.net.state_dict(), b.net.state_dict()
    if sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        return False
    if a.optimizer_type is not b.optimizer_type:
        return False
    if not isinstance(a, Generator):
        return True
    return isinstance(b, Generator) and type(a.latent) is type(b.latent) and a.latent.dim == b.latent.dim


def copy_agent(target: Agent, parent: Agent) -> None:
    """Give ``target`` ``parent``'s weights, buffers, optimizer state (step counts and learning
    rate included) and game extras; ``target`` keeps its name and its own random stream."""
    target.net.load_state_dict(parent.net.state_dict())
    # a deep copy: torch's load_state_dict keeps the very tensors it is given (Adam's moments and
    # step counts), which the parent goes on updating in place
    target.optimizer.load_state_dict(copy.deepcopy(parent.optimizer.state_dict()))
    target.extras = {k: v.detach().clone().requires_grad_(v.requires_grad) for k, v in parent.extras.items()}
    if isinstance(target, Generator) and isinstance(parent, Generator) and target.ema is not None and parent.ema is not None:
        target.ema.load_state_dict(copy.deepcopy(parent.ema.state_dict()))


def mutate(agent: Agent, lr_sigma: float, betas_sigma: float, rng: torch.Generator) -> dict[str, Any]:
    """Multiply the learning rate by ``exp(lr_sigma * N(0, 1))`` and add ``N(0, betas_sigma)``
    to Adam's betas (clipped to [0, 0.999]). Returns the new values."""
    noise = torch.randn(3, generator=rng, dtype=torch.float64).tolist()
    lr = agent.optimizer.base_lr * math.exp(lr_sigma * noise[0])
    agent.optimizer.set_base_lr(lr)
    out: dict[str, Any] = {"lr": lr}
    group = agent.optimizer_groups[0]
    if "betas" in group and betas_sigma > 0:
        betas = tuple(min(max(b + betas_sigma * n, 0.0), 0.999) for b, n in zip(group["betas"], noise[1:]))
        agent.set_hyperparameter("betas", betas)
        out["betas"] = list(betas)
    elif "betas" in group:
        out["betas"] = list(group["betas"])
    return out


def spread(diversity: float) -> float:
    """A diversity ratio read as a score in [0, 1]: ``min(d, 1/d)``, so that samples more spread
    than the data (noise) count as far from it as samples less spread (a collapse)."""
    return min(diversity, 1.0 / diversity) if diversity > 0 else 0.0


def select(
    pools: dict[str, Sequence[Agent]],
    rating: Callable[[Agent], float],
    config: SelectionConfig,
    rng: torch.Generator,
    active: Callable[[Agent], bool],
    diversity: Callable[[Agent], float | None] | None = None,
) -> list[dict[str, Any]]:
    """Replace the ``config.replace`` worst-rated active agents of each role by mutated copies
    of the best compatible ones (never more than half a role). With ``config.by == "diversity"``
    the generators are ranked by ``diversity`` instead (:func:`select_collapsed`). Returns the
    lineage records."""
    records = []
    for role, pool in pools.items():
        if role == "generator" and config.by == "diversity":
            if diversity is None:
                raise ValueError("selection by diversity needs each generator's diversity")
            records += select_collapsed(pool, diversity, config, rng, active)
            continue
        ranked = sorted((a for a in pool if active(a)), key=rating, reverse=True)
        k = min(config.replace, len(ranked) // 2)
        parents = ranked[:k]
        for worst in ranked[::-1][:k]:
            parent = next((p for p in parents if compatible(worst, p)), None)
            if parent is None:
                parent = next((p for p in ranked if p is not worst and rating(p) > rating(worst) and compatible(worst, p)), None)
            records.append(_replace(role, worst, parent, "rating", rating, config, rng,
                                    "no better agent of the same architecture"))
    return records


def _replace(role: str, agent: Agent, parent: Agent | None, score: str, of: Callable[[Agent], float],
             config: SelectionConfig, rng: torch.Generator, missing: str) -> dict[str, Any]:
    """Make ``agent`` a mutated copy of ``parent`` and return the lineage record, which names both
    agents' ``score`` (``of`` them); with no parent nothing changes and the record says ``missing``."""
    if parent is None:
        return {"role": role, "replaced": agent.name, "parent": None, "reason": missing}
    record = {"role": role, "replaced": agent.name, f"replaced_{score}": of(agent),
              "parent": parent.name, f"parent_{score}": of(parent)}
    copy_agent(agent, parent)
    record.update(mutate(agent, config.mutate.lr, config.mutate.betas, rng))
    return record


def select_collapsed(
    pool: Sequence[Agent],
    diversity: Callable[[Agent], float | None],
    config: SelectionConfig,
    rng: torch.Generator,
    active: Callable[[Agent], bool],
) -> list[dict[str, Any]]:
    """Replace the least diverse active generators whose :func:`spread` is below
    ``config.min_diversity`` (at most ``config.replace``, never more than half the pool) by mutated
    copies of the most diverse compatible ones; generators above it are left alone, and one
    without a diversity measurement takes no part."""
    scored = {a.name: spread(d) for a in pool if active(a) and (d := diversity(a)) is not None}
    ranked = sorted((a for a in pool if a.name in scored), key=lambda a: scored[a.name], reverse=True)
    k = min(config.replace, len(ranked) // 2)
    worst = [a for a in ranked[::-1] if scored[a.name] < config.min_diversity][:k]
    records = []
    for agent in worst:
        parent = next((p for p in ranked if p not in worst and scored[p.name] > scored[agent.name] and compatible(agent, p)),
                      None)
        records.append(_replace("generator", agent, parent, "diversity", lambda a: scored[a.name], config, rng,
                                "no more diverse generator of the same architecture"))
    return records
