"""One master seed; every owner of random draws derives its own seed from it and a name.

Agents, the data source, the data stream, the schedule, selection and evaluation each hold a
``torch.Generator`` of their own. The only draws without an owner are those of torch's global
generator (dropout masks); :func:`seed_global` seeds it, once, where a run starts.
"""

from __future__ import annotations

import hashlib

import torch

from arena.core.errors import ConfigError

__all__ = ["derive_seed", "seed_global", "resolve_device"]


def derive_seed(master: int, *names: str) -> int:
    """A 63-bit seed for ``names`` under ``master``, stable across runs, platforms and Python versions."""
    digest = hashlib.sha256("/".join([str(master), *names]).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def seed_global(master: int) -> None:
    """Seed torch's global generator (dropout, and anything else without a generator of its
    own) from the master seed; checkpoints save and restore its state."""
    torch.manual_seed(derive_seed(master, "loop"))


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda, then mps, then cpu; anything else is checked to exist.

    Raises:
        ConfigError: a device this machine does not have.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} asked for, but this torch has no usable CUDA; use auto or cpu", ("device",))
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device {device!r} asked for, but only {torch.cuda.device_count()} CUDA devices exist", ("device",))
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise ConfigError("device 'mps' asked for, but MPS is not available here; use auto or cpu", ("device",))
    return dev
