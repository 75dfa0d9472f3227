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
from arena.core.resources import human_bytes, memory_limit
from arena.data import DataSource

__all__ = ["budget", "check_memory", "check_sizes", "check_eval_memory", "check_shapes", "check_panel", "check_selection", "MEMORY_FRACTION"]

MEMORY_FRACTION = 0.8
"""Share of the device's memory that the agents' weights, gradients and optimizer state may plan to use."""


def budget(device: torch.device) -> tuple[int, str]:
    """The bytes a run may plan for on ``device`` and, in words, the limit they are a share of
    (physical memory, ``ulimit -v``, the cgroup's: whichever is least)."""
    total, source = memory_limit(device)
    return int(total * MEMORY_FRACTION), f"{MEMORY_FRACTION:.0%} of the {human_bytes(total)} of {source} on {device}"


def check_memory(specs: list[AgentSpec], data: DataSource, device: torch.device) -> None:
    """Estimate every agent's weights, gradients and optimizer state (built on the meta
    device, so nothing is allocated) and refuse a pool that cannot fit in memory."""
    allowed, limit = budget(device)
    total, worst = 0, (0, 0, 0)
    for i, spec in enumerate(specs):
        params, size = estimate_agent_bytes(spec, data.space(), ("agents", i))
        size *= len(agent_names(spec))
        total += size
        if size > worst[0]:
            worst = (size, i, params)
    total += sum(getattr(x, "resident_bytes", x.numel() * x.element_size()) for x in data.splits.values())
    if total > allowed:
        size, i, params = worst
        raise ConfigError(
            f"the agents need about {human_bytes(total)} for weights, gradients and optimizer state "
            f"(this spec: {params:,} parameters per agent), more than {human_bytes(allowed)} ({limit})",
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
    allowed, limit = budget(device)
    if need > allowed:
        raise ConfigError(
            f"a review of {config.review.samples:,} samples from each of {n} generators needs about "
            f"{human_bytes(need)}, more than {human_bytes(allowed)} ({limit})",
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


def _rows_needed(train: int, test_fraction: float | None) -> int:
    """The fewest rows whose split (``max(1, round(rows * test_fraction))`` held out) leaves
    ``train`` for training."""
    if test_fraction is None:
        return train
    rows = train + 1
    while rows - max(1, int(round(rows * test_fraction))) < train:
        rows += 1
    return rows


def check_sizes(config, data: DataSource, pack: int = 1) -> None:
    """Refuse data too small for its splits and batches, naming the file and the sizes it needs:
    training draws batches of ``schedule.batch_size`` rows (and the shape check two packs of a
    packed discriminator), and the held-out split must hold a row."""
    train, test = data.train.shape[0], data.test.shape[0]
    need = max(config.schedule.batch_size, 2 * pack)
    if train >= need and test >= 1:
        return
    file = data.info.get("path") or data.info.get("root")
    fraction = _test_fraction(config)
    why = "" if need == config.schedule.batch_size else (
        " (the shape check draws two samples" + (f" packs of {pack})" if pack > 1 else ")"))
    short = (f"batch size {need} is larger than the {train} training samples{why}" if train < need
             else "no sample is held out for testing")
    if not file:
        raise ConfigError(f"{short}; use a smaller schedule.batch_size, or more data", ("schedule", "batch_size"))
    split = f"{train:,} for training and {test:,} held out" + (f" by data.test_fraction {fraction}" if fraction else "")
    unit, holder = ("images", "folder") if "root" in data.info else ("rows", "file")
    raise ConfigError(f"{file} ({train + test:,} {unit}: {split}) is too small: {short}; the {holder} needs at least "
                      f"{_rows_needed(need, fraction):,} {unit}, or a smaller schedule.batch_size", ("schedule", "batch_size"))


def _test_fraction(config) -> float | None:
    """The share of rows the config's data source holds out, where it takes one (``test_fraction``)."""
    import inspect

    from arena.data import sources

    source = config.data.get("source", "")
    try:
        param = inspect.signature(sources.factory(source)).parameters.get("test_fraction")
    except (KeyError, ValueError, TypeError):  # an unknown source is refused where the data is built
        return None
    if param is None:
        return None
    value = config.data.get("test_fraction", param.default)
    return float(value) if isinstance(value, (int, float)) else None


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
