"""How much memory a run may plan for, so that oversized configs fail before they allocate.

On the CPU the budget is the least of what the machine, the process and its group allow:
physical memory; what is left under the address-space limit (``ulimit -v``, ``RLIMIT_AS``) and
the data-segment limit (``RLIMIT_DATA``) past what the process already maps; and its control
group's limit (``memory.max`` in cgroup v2, ``memory.limit_in_bytes`` in v1: a container's, a
Slurm job's). :func:`memory_limit` says which one applies, so the refusal can name it.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import NamedTuple

import torch

__all__ = ["memory_bytes", "memory_limit", "cgroup_limit", "Limit", "human_bytes"]

UNLIMITED = 1 << 62


class Limit(NamedTuple):
    """A memory budget in bytes and, in words, where it comes from."""

    bytes: int
    source: str


def _proc_status(key: str) -> int | None:
    """A size in ``/proc/self/status`` (``VmSize``, ``VmData``) in bytes; None where unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _rlimit_left(which: int, key: str) -> int | None:
    """What is left under a resource limit past what the process already uses; None if unlimited."""
    try:
        soft, _ = resource.getrlimit(which)
    except (ValueError, OSError):
        return None
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    return max(soft - (_proc_status(key) or 0), 0)


def _cgroup_value(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text.isdigit():  # "max": none
        return None
    value = int(text)
    return value if value < UNLIMITED else None


def cgroup_limit(root: Path = Path("/sys/fs/cgroup"), membership: str | None = None) -> tuple[int, str] | None:
    """The tightest memory limit of this process's control group and the groups above it, and its
    file; None where there is none.

    Args:
        root: where the cgroup file systems are mounted.
        membership: the text of ``/proc/self/cgroup`` (read where not given).
    """
    if membership is None:
        try:
            membership = Path("/proc/self/cgroup").read_text()
        except OSError:
            return None
    candidates: list[Path] = []
    for line in membership.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, group = parts
        group = group.strip().lstrip("/")
        if controllers == "":  # v2: one hierarchy
            base, name = root, "memory.max"
        elif "memory" in controllers.split(","):  # v1: the memory controller's hierarchy
            base, name = root / "memory", "memory.limit_in_bytes"
        else:
            continue
        folder = base / group if group else base
        while True:
            candidates.append(folder / name)
            if folder == base:
                break
            folder = folder.parent
    best: tuple[int, str] | None = None
    for path in candidates:
        value = _cgroup_value(path)
        if value is not None and (best is None or value < best[0]):
            best = (value, str(path))
    return best


def memory_limit(device: torch.device | str = "cpu") -> Limit:
    """The memory ``device`` may use, and where that figure comes from: the GPU's total for
    CUDA; on the CPU the least of physical memory, the process's limits and its cgroup's."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return Limit(int(torch.cuda.get_device_properties(device).total_memory), f"memory of {device}")
    try:
        best = Limit(int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")), "physical memory")
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit known
        return Limit(UNLIMITED, "memory (no limit known)")
    rlimits = ((getattr(resource, "RLIMIT_AS", None), "VmSize", "address-space limit (ulimit -v, RLIMIT_AS)"),
               (getattr(resource, "RLIMIT_DATA", None), "VmData", "data-segment limit (ulimit -d, RLIMIT_DATA)"))
    for which, key, name in rlimits:
        left = _rlimit_left(which, key) if which is not None else None
        if left is not None and left < best.bytes:
            best = Limit(left, f"memory left under the {name}")
    group = cgroup_limit()
    if group is not None and group[0] < best.bytes:
        best = Limit(group[0], f"memory limit of the control group ({group[1]})")
    return best


def memory_bytes(device: torch.device | str = "cpu") -> int:
    """The memory ``device`` may use in bytes (:func:`memory_limit`)."""
    return memory_limit(device).bytes


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PB"
