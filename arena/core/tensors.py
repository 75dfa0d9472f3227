"""Helpers over trees of tensors (nested dicts, lists and tuples), as states are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch

__all__ = ["map_tensors", "clone_tensors"]


def map_tensors(obj: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """``obj`` (a state: nested dicts, lists and tuples) with ``fn`` applied to every tensor; the
    containers are rebuilt, everything else (numbers, strings, None) is shared."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: map_tensors(v, fn) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(map_tensors(v, fn) for v in obj)
    return obj


def clone_tensors(obj: Any) -> Any:
    """``obj`` with every tensor detached and cloned, as ``map_tensors(obj, clone)`` gives it, but
    the floating-point tensors in one copy per device and dtype: they are concatenated into one
    new buffer, and each clone is a view of its part of it. On a GPU a state of dozens of tensors
    then costs a few kernel launches rather than one per tensor. Other tensors (random states,
    counters) are cloned one by one: a random generator reads its state from the start of the
    storage, not from a view's offset."""
    found: list[torch.Tensor] = []

    def keep(t: torch.Tensor) -> torch.Tensor:
        found.append(t)
        return t

    map_tensors(obj, keep)
    groups: dict[tuple[torch.device, torch.dtype], list[int]] = {}
    for i, t in enumerate(found):
        if t.is_floating_point():
            groups.setdefault((t.device, t.dtype), []).append(i)
    clones: list[torch.Tensor | None] = [None if t.is_floating_point() else t.detach().clone() for t in found]
    with torch.no_grad():
        for members in groups.values():
            flat = torch.cat([found[i].detach().reshape(-1) for i in members])
            for i, part in zip(members, torch.split(flat, [found[i].numel() for i in members])):
                clones[i] = part.view(found[i].shape)
    order = iter(clones)
    return map_tensors(obj, lambda t: cast(torch.Tensor, next(order)))
