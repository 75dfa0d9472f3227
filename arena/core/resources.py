"""How much memory a run may plan for, so that oversized configs fail before they allocate."""

from __future__ import annotations

import os

import torch

__all__ = ["memory_bytes", "human_bytes"]


def memory_bytes(device: torch.device | str = "cpu") -> int:
    """Total memory of ``device``: the GPU's for CUDA, physical memory otherwise."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit known
        return 1 << 62


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PB"
