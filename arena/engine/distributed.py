"""Distributed tournaments: ``torchrun --nproc-per-node N -m arena run CONFIG``.

Every rank builds the whole arena from the same config and seed, so every rank holds every
agent. Each matching's matches are dealt out to the ranks in turn; every rank plays its share
(batched where it can), then all ranks swap the new states of the agents they played
(``all_gather_object``), so after every matching every rank holds the same agents, bit for
bit. Evaluation, ratings and selection are pure functions of those states and of seeds, so
every rank computes them alike; only rank 0 writes the run directory. The collective backend
is gloo on CPUs and NCCL on GPUs (one GPU per rank: ``cuda:LOCAL_RANK``).

Because each match draws from its own fork of the data stream and its generators from their
own streams, the result is the one a single process gets (up to float rounding where a rank
stacks matches that a single process played one by one, and dropout masks, which come from
each process's global random stream).
"""

from __future__ import annotations

import datetime
import os
from typing import Any

import torch
import torch.distributed as dist

from arena.core.errors import ConfigError
from arena.core.tensors import map_tensors

__all__ = ["Comm", "from_env"]


class Comm:
    """This process's place among the ranks of a run.

    Args:
        rank: this process's rank.
        world: the number of ranks.
    """

    def __init__(self, rank: int, world: int) -> None:
        self.rank, self.world = rank, world

    def __repr__(self) -> str:
        return f"Comm(rank={self.rank}, world={self.world}, backend={dist.get_backend()})"

    def share(self, items: list) -> list:
        """This rank's share of ``items`` (dealt in turn)."""
        return items[self.rank :: self.world]

    def exchange(self, outcomes: list, arena) -> list:
        """Every rank's outcomes, after loading the states of the agents other ranks played."""
        payload = []
        agents = arena.agents
        for outcome in outcomes:  # frozen snapshots never change: only the agents that learn travel
            names = [n for n in (*outcome.generators, *outcome.discriminators) if n in agents]
            # on the CPU, so that it unpickles on any rank and device
            payload.append((outcome, {name: map_tensors(arena.agent(name).state_dict(), lambda t: t.detach().cpu())
                                      for name in names}))
        gathered: list = [None] * self.world
        dist.all_gather_object(gathered, payload)
        merged = []
        for rank, items in enumerate(gathered):
            for outcome, states in items:
                if rank != self.rank:
                    for name, state in states.items():
                        arena.agent(name).load_state_dict(state)
                merged.append(outcome)
        return merged

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is set on any rank (so that all ranks stop at the same matching)."""
        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
        t = torch.tensor([int(flag)], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj``, on every rank."""
        box = [obj if self.rank == 0 else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


def from_env(device: str) -> tuple[Comm | None, str]:
    """Join the process group that ``torchrun`` describes in the environment (``WORLD_SIZE``,
    ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``).

    Args:
        device: the run's device setting.

    Returns:
        ``(comm, device)``: None and ``device`` unchanged outside torchrun (or with one rank);
        otherwise this rank's :class:`Comm` and its device (``cuda:LOCAL_RANK`` where the
        setting resolves to CUDA).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None, device
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda:
        if local >= torch.cuda.device_count():
            raise ConfigError(
                f"rank {rank} has local rank {local}, and this machine has {torch.cuda.device_count()} GPUs; "
                f"start at most one process per GPU (--nproc-per-node)", ("device",))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(minutes=30))
    return Comm(rank, world), device
