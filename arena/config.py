"""Typed run configs: YAML in, dataclasses out, every mistake named by file, line and key path.

One dataclass per section, with a docstring per field. The same dataclasses read YAML,
apply ``--set key.path=value`` overrides and write the resolved config of every run.
Free-form sections (``data``, ``game`` and each agent's ``net``, ``optim``, ``latent``) are
mappings checked when the arena builds them, against the signature of what they name.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml

from agents.spec import AgentSpec, agent_names
from arena.core.errors import ConfigError
from arena.core.typecheck import Ge, Gt, Lt, parse_dataclass

__all__ = [
    "RunConfig",
    "ScheduleConfig",
    "LogConfig",
    "EvalConfig",
    "CheckpointConfig",
    "DivergenceConfig",
    "RatingsConfig",
    "SelectionConfig",
    "MutateConfig",
    "MixtureConfig",
    "ComputeConfig",
    "ConfigOrigin",
    "load_config",
    "parse_config",
    "apply_overrides",
    "config_to_dict",
    "dump_config",
]

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@dataclasses.dataclass
class ScheduleConfig:
    """Which matches are played, and for how long."""

    type: Literal["round-robin", "random", "grid", "all-vs-best"] = "round-robin"
    """How matchings are formed: ``round-robin`` (every generator meets every discriminator equally
    often), ``random`` (seeded), ``grid`` (Lipizzaner's toroidal grid) or ``all-vs-best``."""
    matchings: Annotated[int, Ge(1)] = 100
    """Number of matchings in the run."""
    steps_per_match: Annotated[int, Ge(1)] = 100
    """Rounds each match plays (a round: ``d_steps`` discriminator updates, one generator update)."""
    batch_size: Annotated[int, Ge(1)] = 64
    """Real (and generated) samples per update."""


@dataclasses.dataclass
class LogConfig:
    """What is written to ``metrics.jsonl`` and the terminal."""

    every: Annotated[int, Ge(1)] = 1
    """Matchings between lines of training metrics."""


@dataclasses.dataclass
class EvalConfig:
    """Periodic evaluation: sample pictures and, on toy mixtures, mode metrics."""

    every: Annotated[int, Ge(1)] = 10
    """Matchings between evaluations (the last matching is always evaluated)."""
    samples: Annotated[int, Ge(1)] = 2500
    """Generated samples per evaluation (PacGAN's protocol: 2,500)."""
    grid: Annotated[int, Ge(1)] = 64
    """Images in each sample grid."""


@dataclasses.dataclass
class CheckpointConfig:
    """Checkpoints of all state, from which ``arena resume`` continues exactly."""

    every: Annotated[int, Ge(1)] = 10
    """Matchings between checkpoints (the last matching is always checkpointed)."""
    keep_last: Annotated[int, Ge(1)] = 3
    """How many checkpoints to keep; older ones are removed."""


@dataclasses.dataclass
class DivergenceConfig:
    """What happens when a match diverges (a NaN or inf loss, exploding weights)."""

    enabled: bool = True
    """Check every match; a diverged match is voided and its players restored."""
    max_weight: Annotated[float, Gt(0)] = 1.0e3
    """A parameter with absolute value above this counts as exploding."""
    lr_factor: Annotated[float, Gt(0), Lt(1)] = 0.1
    """Multiplies the blamed agent's learning rate after each failure."""
    max_failures: Annotated[int, Ge(1)] = 3
    """Failures after which an agent is retired from the run."""


@dataclasses.dataclass
class RatingsConfig:
    """How agents are rated from the cross-evaluation results."""

    system: Literal["glicko2", "elo", "bradley-terry"] = "glicko2"
    """``glicko2``, ``elo`` or ``bradley-terry``; ``arena ratings RUN_DIR --system`` recomputes any of them."""


@dataclasses.dataclass
class MutateConfig:
    """How a copy's hyper-parameters are perturbed."""

    lr: Annotated[float, Ge(0)] = 0.2
    """The copy's learning rate is the parent's times ``exp(lr * N(0, 1))``."""
    betas: Annotated[float, Ge(0)] = 0.0
    """Standard deviation of the noise added to Adam's betas (kept in [0, 0.999])."""


@dataclasses.dataclass
class SelectionConfig:
    """Population-based training: replace the worst agents by mutated copies of the best."""

    every: Annotated[int, Ge(0)] = 0
    """Matchings between selections (0: no selection); a multiple of ``eval.every``."""
    replace: Annotated[int, Ge(1)] = 1
    """How many of the worst agents of each role are replaced each time."""
    mutate: MutateConfig = dataclasses.field(default_factory=MutateConfig)
    """Perturbation of the copies' hyper-parameters."""


@dataclasses.dataclass
class MixtureConfig:
    """The tournament's final generator: a weighted mixture of its best generators."""

    top: Annotated[int, Ge(0)] = 0
    """How many of the best-rated generators (0: all of them)."""
    weights: Literal["uniform", "rating", "quality"] = "rating"
    """``uniform``, ``rating`` (proportional to Bradley-Terry strength, ``10^(rating/400)``) or
    ``quality`` (fitted to the data's quality metric; on toy mixtures: the mode histogram)."""


@dataclasses.dataclass
class ComputeConfig:
    """How matches are computed: batched or one by one, precision, compilation. None of these
    changes what is computed beyond float rounding; the GPU-only ones fall back, with one
    warning, where they are not supported."""

    matchings: Literal["auto", "batched", "one-by-one"] = "auto"
    """``batched``: the pair matches of a matching whose agents share an architecture (and whose
    game is played by its losses alone) run as one stacked computation (torch.func.vmap);
    ``one-by-one``: every match in turn; ``auto``: batched wherever two or more matches can be
    stacked."""
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """``bf16`` or ``fp16`` run forward passes under autocast on a CUDA device (``fp16`` with
    loss scaling per agent); on other devices they fall back to ``fp32``."""
    compile: bool = False
    """Compile every agent's network with ``torch.compile`` (falls back to eager where compiling
    fails)."""
    cuda_graphs: bool = False
    """On a CUDA device, replay the networks' kernels as CUDA graphs (``torch.compile`` mode
    ``reduce-overhead``): less launch overhead for small models. Ignored elsewhere."""


@dataclasses.dataclass
class RunConfig:
    """A whole run: the arena, its agents, the game and the schedule."""

    agents: list[AgentSpec]
    """The agent pool: a list of specs, each standing for ``count`` agents."""
    name: str = "run"
    """Name of the run; new run directories are ``runs/<name>-<time>``."""
    seed: Annotated[int, Ge(0)] = 0
    """Master seed; every agent, the data source and the loop derive their own from it."""
    device: str = "auto"
    """``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    data: dict[str, Any] = dataclasses.field(default_factory=lambda: {"source": "ring8"})
    """The real data (the "nature" player): ``{source: ring8|grid25|gaussian1d|digits|mnist5k|mnist|images|npy, ...}``."""
    game: dict[str, Any] = dataclasses.field(default_factory=lambda: {"id": "gan-v0"})
    """The game: ``{id: gan-v0, d_steps: 1, ...}``."""
    schedule: ScheduleConfig = dataclasses.field(default_factory=ScheduleConfig)
    """Matchings, rounds per match and batch size."""
    log: LogConfig = dataclasses.field(default_factory=LogConfig)
    """Metrics logging."""
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    """Periodic evaluation and sample pictures."""
    checkpoint: CheckpointConfig = dataclasses.field(default_factory=CheckpointConfig)
    """Checkpointing."""
    divergence: DivergenceConfig = dataclasses.field(default_factory=DivergenceConfig)
    """Rolling back and retiring agents whose matches diverge."""
    ratings: RatingsConfig = dataclasses.field(default_factory=RatingsConfig)
    """The rating system of the leaderboard."""
    selection: SelectionConfig = dataclasses.field(default_factory=SelectionConfig)
    """Optional selection (population-based training)."""
    mixture: MixtureConfig = dataclasses.field(default_factory=MixtureConfig)
    """The mixture of the best generators."""
    compute: ComputeConfig = dataclasses.field(default_factory=ComputeConfig)
    """Batched matchings, mixed precision and compilation."""

    def validate(self) -> None:
        if not _DEVICE.match(self.device):
            raise ConfigError(f"expected auto, cpu, cuda, cuda:N or mps, got {self.device!r}", ("device",))
        if not re.match(r"^[A-Za-z0-9_.\-]+$", self.name):
            raise ConfigError(f"expected letters, digits, '_', '-' and '.', got {self.name!r}", ("name",))
        if not self.agents:
            raise ConfigError("expected at least one generator and one discriminator, got an empty list", ("agents",))
        seen: dict[str, int] = {}
        for i, spec in enumerate(self.agents):
            for name in agent_names(spec):
                if name in seen:
                    raise ConfigError(
                        f"agent name {name!r} is used twice (also by agents[{seen[name]}])", ("agents", i, "name")
                    )
                seen[name] = i
        for role in ("generator", "discriminator"):
            if not any(s.role == role for s in self.agents):
                raise ConfigError(f"the game needs at least one {role}, and no agent has role {role!r}", ("agents",))
        n, m = len(self.generator_names), len(self.discriminator_names)
        if self.schedule.type == "grid" and n != m:
            raise ConfigError(
                f"the grid schedule needs as many generators as discriminators (one of each per cell), got {n} and {m}",
                ("schedule", "type"),
            )
        if self.selection.every and self.selection.every % self.eval.every:
            raise ConfigError(
                f"selection uses the ratings of the latest evaluation, so its period must be a multiple of "
                f"eval.every ({self.eval.every}), got {self.selection.every}",
                ("selection", "every"),
            )
        if self.compute.matchings == "batched" and self.compute.precision == "fp16":
            raise ConfigError(
                "batched matchings do not scale losses, which fp16 needs; use precision bf16 or matchings one-by-one",
                ("compute", "matchings"),
            )

    @property
    def generator_names(self) -> list[str]:
        return [n for s in self.agents if s.role == "generator" for n in agent_names(s)]

    @property
    def discriminator_names(self) -> list[str]:
        return [n for s in self.agents if s.role == "discriminator" for n in agent_names(s)]


def _line_map(text: str) -> dict[tuple, int]:
    """Key path -> 1-based line of its value, from the YAML node tree."""
    lines: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, (*path, key.value))
                lines[(*path, key.value)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, ())
    return lines


def _parse_key(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", key):
        if token.startswith("["):
            parts.append(int(token[1:-1]))
        elif token.isdigit():
            parts.append(int(token))
        else:
            parts.append(token)
    return parts


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str]) -> list[tuple]:
    """Apply ``key.path=value`` overrides (values read as YAML) in place to a raw config mapping.

    ``agents.0.optim.lr=1e-3`` and ``agents[0].optim.lr=1e-3`` are the same key path.
    Returns the key paths that were set.
    """
    done: list[tuple] = []
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected key.path=value, got {item!r}", file="--set")
        path = _parse_key(key.strip())
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"cannot read value {text!r}: {exc}", path, file="--set") from None
        node: Any = raw
        for i, part in enumerate(path[:-1]):
            if isinstance(part, int):
                if not isinstance(node, list) or not -len(node) <= part < len(node):
                    raise ConfigError(f"no item {part} here", path[: i + 1], file="--set")
                node = node[part]
            else:
                if not isinstance(node, dict):
                    raise ConfigError("not a mapping", path[:i], file="--set")
                node = node.setdefault(part, {})
        last = path[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or not -len(node) <= last < len(node):
                raise ConfigError(f"no item {last} here", path, file="--set")
        elif not isinstance(node, dict):
            raise ConfigError("not a mapping", path[:-1], file="--set")
        node[last] = value
        done.append(tuple(path))
    return done


class ConfigOrigin:
    """Where the values of a config came from: the file, its lines, and ``--set`` overrides."""

    def __init__(self, source: str, lines: Mapping[tuple, int] | None = None, overridden: Iterable[tuple] = ()) -> None:
        self.source = source
        self.lines = dict(lines or {})
        self.overridden = [tuple(p) for p in overridden]

    def locate(self, exc: ConfigError) -> ConfigError:
        """Fill in the file and line of an error raised with a key path only."""
        if any(exc.path[: len(p)] == p for p in self.overridden):
            return exc.locate("--set")
        return exc.locate(self.source, self.lines)


def parse_config(raw: Any, origin: ConfigOrigin | None = None) -> RunConfig:
    """Check a raw mapping and build a :class:`RunConfig`; errors name the file and the line.

    The returned config carries its :class:`ConfigOrigin` as ``config.origin``, so errors found
    later (when the arena builds what the config names) are located the same way.
    """
    origin = origin or ConfigOrigin("<config>")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"expected a mapping at the top level, got {type(raw).__name__}", file=origin.source)
    try:
        config = parse_dataclass(RunConfig, raw)
    except ConfigError as exc:
        raise origin.locate(exc) from None
    config.origin = origin  # type: ignore[attr-defined]
    return config


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> RunConfig:
    """Read a YAML config (``yaml.safe_load`` only), apply overrides, check everything."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError("no such config file", file=source) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config: {exc}", file=source) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid YAML: {problem}", file=source, line=line) from None
    if raw is None:
        raise ConfigError("the config is empty", file=source)
    overridden = apply_overrides(raw, overrides) if isinstance(raw, dict) else []
    return parse_config(raw, ConfigOrigin(source, _line_map(text), overridden))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """The config as plain YAML-ready data (the first key is ``name``)."""
    data = _plain(dataclasses.asdict(config))
    order = ["name", "seed", "device", "data", "game", "agents", "schedule", "log", "eval", "checkpoint", "divergence",
             "ratings", "selection", "mixture", "compute"]
    return {k: data[k] for k in order}


def dump_config(config: RunConfig) -> str:
    return yaml.safe_dump(config_to_dict(config), sort_keys=False, default_flow_style=None)
