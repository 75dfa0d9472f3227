"""Cross-field checks made before training: sizes that cannot fit, shapes that do not match.

Both run inside :func:`arena.engine.arena.build_arena`, so ``arena check`` and ``arena run`` reject
such configs before anything is written.
"""

from __future__ import annotations

import math

import torch

from agents import Agent, AgentSpec, Discriminator, Generator, agent_names, evaluating
from agents.spec import estimate_agent_bytes
from arena.core.errors import ConfigError
from arena.core.resources import human_bytes, memory_bytes
from arena.data import DataSource

__all__ = ["check_memory", "check_eval_memory", "check_shapes", "check_panel", "check_selection", "MEMORY_FRACTION"]

MEMORY_FRACTION = 0.8
"""Share of the device's memory that the agents' weights, gradients and optimizer state may plan to use."""


def check_memory(specs: list[AgentSpec], data: DataSource, device: torch.device) -> None:
    """Estimate every agent's weights, gradients and optimizer state (built on the meta
    device, so nothing is allocated) and refuse a pool that cannot fit in memory."""
    budget = int(memory_bytes(device) * MEMORY_FRACTION)
    total, worst = 0, (0, 0, 0)
    for i, spec in enumerate(specs):
        params, size = estimate_agent_bytes(spec, data.space(), ("agents", i))
        size *= len(agent_names(spec))
        total += size
        if size > worst[0]:
            worst = (size, i, params)
    total += sum(x.numel() * x.element_size() for x in data.splits.values())
    if total > budget:
        size, i, params = worst
        raise ConfigError(
            f"the agents need about {human_bytes(total)} for weights, gradients and optimizer state "
            f"(this spec: {params:,} parameters per agent), more than {human_bytes(budget)} "
            f"({MEMORY_FRACTION:.0%} of the {human_bytes(memory_bytes(device))} on {device})",
            ("agents", i, "net"),
        )


def check_eval_memory(config, data: DataSource, device: torch.device) -> None:
    """Refuse a ``review.samples`` whose review cannot fit in memory, before training: every
    review holds each generator's samples and the held-out data for cross-play (float32),
    and the toy metrics compare every sample with every mode (float64). A family's members are
    reviewed one by one, so each counts."""
    n = sum(len(agent_names(s)) * s.members for s in config.agents if s.role == "generator")
    per_sample = 4 * math.prod(data.shape)
    known = data.kind.modes()
    modes = int(known.centers.shape[0]) if known is not None else 0
    need = config.review.samples * ((n + 1) * per_sample + 8 * (modes + math.prod(data.shape)))
    budget = int(memory_bytes(device) * MEMORY_FRACTION)
    if need > budget:
        raise ConfigError(
            f"a review of {config.review.samples:,} samples from each of {n} generators needs about "
            f"{human_bytes(need)}, more than {human_bytes(budget)} ({MEMORY_FRACTION:.0%} of the "
            f"{human_bytes(memory_bytes(device))} on {device})",
            ("review", "samples"),
        )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def check_panel(panel, data: DataSource) -> None:
    """Refuse the panel's low-dimensional stages (support, balance, renoise: kernel and k-NN
    estimates on the data itself) on image data, where they would run and mean nothing."""
    if not (panel.enabled and data.kind.images):
        return
    for stage in panel.low_dimensional_stages:
        raise ConfigError(f"the {stage} stage is a kernel or k-NN estimate on the data itself, which means nothing on "
                          f"{data.name}'s images of shape {tuple(data.shape)}; leave panel.{stage} out (the panel's "
                          f"rejection and refinement work on images)", ("panel", stage))


def check_selection(selection, data: DataSource) -> None:
    """Refuse selection by diversity on data whose reviews do not measure it (anything but images)."""
    if selection.by == "diversity" and "diversity" not in data.kind.signal_metrics:
        raise ConfigError(f"'diversity' ranks the generators by their image samples' spread, which is not measured on "
                          f"{data.name} data; use 'rating'", ("selection", "by"))


def check_shapes(agents: list[tuple[Agent, int]], data: DataSource) -> None:
    """One small forward pass per agent: generators must emit the data's shape, discriminators
    must take it and emit one logit per sample. ``agents`` pairs each agent with its spec index."""
    shape = tuple(data.shape)
    for agent, i in agents:
        real = data.train[: 2 * (agent.pack if isinstance(agent, Discriminator) else 1)]  # two packs of a packed discriminator
        path = ("agents", i, "net")
        with evaluating(agent), torch.no_grad():
            if isinstance(agent, Generator):
                z = agent.latent.sample(2, torch.Generator(device=agent.device).manual_seed(0), agent.device)
                try:
                    out = agent(z)
                except RuntimeError as exc:
                    raise ConfigError(
                        f"the generator's network fails on latent vectors of shape {tuple(z.shape[1:])}: {_first_line(exc)}", path
                    ) from None
                if not isinstance(out, torch.Tensor) or tuple(out.shape[1:]) != shape:
                    got = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else type(out).__name__
                    raise ConfigError(f"the generator emits samples of shape {got}, but the data has shape {shape}", path)
            else:
                try:
                    out = agent(real)
                except RuntimeError as exc:
                    raise ConfigError(
                        f"the discriminator's network cannot take data of shape {shape}: {_first_line(exc)}", path
                    ) from None
                k = agent.action_space.shape[0]
                if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, k):
                    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                    what = "one logit" if k == 1 else f"{k} logits"
                    raise ConfigError(
                        f"the discriminator must emit {what} per sample, shape (batch, {k}); it emits {got}", path
                    )
