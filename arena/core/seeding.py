"""One master seed; every owner of random draws derives its own seed from it and a name.

Agents, the data source, the data stream, the schedule, selection and evaluation each hold a
``torch.Generator`` of their own. The only draws without an owner are those of torch's global
generator (dropout masks); :func:`seed_global` seeds it, once, where a run starts.
"""

from __future__ import annotations

import hashlib

import torch

__all__ = ["derive_seed", "seed_global"]


def derive_seed(master: int, *names: str) -> int:
    """A 63-bit seed for ``names`` under ``master``, stable across runs, platforms and Python versions."""
    digest = hashlib.sha256("/".join([str(master), *names]).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def seed_global(master: int) -> None:
    """Seed torch's global generator (dropout, and anything else without a generator of its
    own) from the master seed; checkpoints save and restore its state."""
    torch.manual_seed(derive_seed(master, "loop"))

