"""Where a run computes: its device, its process group, and whether this process leads.

A run resolves its placement once, in :func:`place`, from the config's ``device`` setting (or the
caller's override) and the environment ``torchrun`` leaves: ``auto`` becomes cuda, then mps, then
cpu; under torchrun each rank joins the group and takes its GPU (``cuda:LOCAL_RANK``). The
:class:`Placement` is then handed down as one value: the arena is built on its device, the
tournament and its match runner share its ranks, and only the process that leads writes the run
directory.
"""

from __future__ import annotations

import dataclasses

import torch

from arena.core.errors import ConfigError
from arena.engine.distributed import Comm, from_env

__all__ = ["Placement", "place", "resolve_device"]


def _mps() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto`` -> cuda, then mps, then cpu; anything else is checked to exist.

    Raises:
        ConfigError: a device this machine does not have.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps() else torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {str(device)!r} asked for, but this torch has no usable CUDA; use auto or cpu", ("device",))
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device {str(device)!r} asked for, but only {torch.cuda.device_count()} CUDA devices exist",
                              ("device",))
    if dev.type == "mps" and not _mps():
        raise ConfigError("device 'mps' asked for, but MPS is not available here; use auto or cpu", ("device",))
    return dev


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where one process of a run computes.

    Attributes:
        device: the device its agents, data and rounds live on.
        comm: its place among the ranks of a distributed run; None for the only process.
    """

    device: torch.device
    comm: Comm | None = None

    @property
    def lead(self) -> bool:
        """Whether this process writes the run directory (rank 0, or the only process)."""
        return self.comm is None or self.comm.rank == 0

    def describe(self) -> str:
        """``; N ranks`` for a distributed run, else nothing (to follow a run's one-line description)."""
        return f"; {self.comm.world} ranks" if self.comm is not None else ""


def place(setting: str, override: str | None = None, distributed: bool = True) -> Placement:
    """The placement of a run whose config says ``device: setting``, or ``override`` where the
    caller gives one; with ``distributed``, this process joins the group that ``torchrun``
    describes in the environment, if any (reading a run never joins one).

    Raises:
        ConfigError: a device this machine does not have, or more ranks than GPUs.
    """
    device = override or setting
    comm = None
    if distributed:
        comm, device = from_env(device)
    return Placement(resolve_device(device), comm)
