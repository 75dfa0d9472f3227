"""The sections of a run config: one typed dataclass per section, a docstring per field.

The same dataclasses read YAML (:mod:`arena.config.loading`), take ``--set key.path=value``
overrides and write the resolved config of every run. Values that name a plug-in (a schedule,
a rating system, a mixture weighting) are checked against its registry. Free-form sections
(``data``, ``game`` and each agent's ``net``, ``optim``, ``latent``) are mappings checked when
the arena builds them, against the signature of what they name.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from typing import Annotated, Any, Literal

from agents.spec import AgentSpec, agent_names
from arena.config.panel import PanelConfig
from arena.core.errors import ConfigError
from arena.core.origin import ConfigOrigin
from arena.core.typecheck import Ge, Gt, Le, Lt

__all__ = [
    "RunConfig",
    "ScheduleConfig",
    "LogConfig",
    "ReviewConfig",
    "CheckpointConfig",
    "DivergenceConfig",
    "RatingsConfig",
    "SelectionConfig",
    "MutateConfig",
    "MixtureConfig",
    "ComputeConfig",
    "LeagueConfig",
    "MAX_AGENTS",
    "MAX_EVAL_SAMPLES",
]

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d{1,4})?)$")


def check_device(text: str, path: tuple = (), file: str | None = None) -> str:
    """``text`` if it names a device the project runs on (auto, cpu, cuda, cuda:N, mps)."""
    if not isinstance(text, str) or not _DEVICE.match(text):
        raise ConfigError(f"expected auto, cpu, cuda, cuda:N or mps, got {text!r}", path, file=file)
    return text

MAX_AGENTS = 4096
"""Agents a run may hold in all (a 64 x 64 tournament holds 128)."""
MAX_EVAL_SAMPLES = 1_000_000
"""Samples per generator per review (PacGAN's protocol uses 2,500; the Parzen window 10,000)."""


def _registered(kind: str, value: str, path: tuple) -> None:
    """Check that ``value`` names an entry of the plug-in registry of ``kind``."""
    from arena.plugins import registry_of

    registry_of(kind).entry(value, path)


@dataclasses.dataclass
class ScheduleConfig:
    """Which matches are played, and for how long."""

    type: str = "round-robin"
    """How matchings are formed, an id of the schedule registry: ``round-robin`` (every generator
    meets every discriminator equally often), ``random`` (seeded), ``grid`` (Lipizzaner's toroidal
    grid) or ``all-vs-best``."""
    matchings: Annotated[int, Ge(1)] = 100
    """Number of matchings in the run."""
    steps_per_match: Annotated[int, Ge(1)] = 100
    """Rounds each match plays (a round: ``d_steps`` discriminator updates, one generator update)."""
    batch_size: Annotated[int, Ge(1)] = 64
    """Real (and generated) samples per update."""

    def validate(self) -> None:
        _registered("schedule", self.type, ("type",))


@dataclasses.dataclass
class LogConfig:
    """What is written to ``metrics.jsonl`` and the terminal."""

    every: Annotated[int, Ge(1)] = 1
    """Matchings between lines of training metrics."""
    report: bool = True
    """Write ``report.html`` when the run ends (and keep fixed-latent samples for it at every review); with
    ``--seeds``, also the report of all seeds in the parent directory."""
    tensorboard: bool = False
    """Also log to TensorBoard (``RUN_DIR/tensorboard``; needs ``pip install gan-arena[tensorboard]``)."""


@dataclasses.dataclass
class ReviewConfig:
    """The review (:mod:`arena.tournament.review`): every generator sampled and measured, cross-play,
    ratings, selection, the mixture and its panel, and a picture of the best generators' samples."""

    every: Annotated[int, Ge(1)] = 10
    """Matchings between reviews (the last matching is always reviewed)."""
    samples: Annotated[int, Ge(1), Le(MAX_EVAL_SAMPLES)] = 2500
    """Generated samples per generator and review (PacGAN's protocol: 2,500)."""
    grid: Annotated[int, Ge(1)] = 64
    """Images in each sample grid."""
    pictures: bool = True
    """Save a picture of generators' samples at every review (``samples/``)."""
    pictures_max: Annotated[int, Ge(1)] = 4
    """At most this many generators get a picture at each review: the best-rated ones (a picture
    costs a few tenths of a second; a 32 x 32 tournament would spend more time drawing than
    reviewing). The report shows every generator."""
    inception_weights: str | None = None
    """The Inception weights file (``weights-inception-2015-12-05-6726825d.pth``) that ``arena eval``'s
    ``fid_inception`` and ``kid_inception`` read, for machines without a network (default:
    ``$GAN_ARENA_INCEPTION_WEIGHTS``, then the cache, filled by ``arena eval --download``)."""


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
    """How agents are rated from the cross-play results."""

    system: str = "glicko2"
    """An id of the rating-system registry: ``glicko2``, ``elo`` or ``bradley-terry``;
    ``arena ratings RUN_DIR --system`` recomputes any of them."""

    judgement: str = "game"
    """How a discriminator's calls become its score in cross-play: ``game`` (the pair's game
    decides; balanced accuracy by default), ``auc``, ``likelihood``, ``manifold`` (k-NN precision
    and recall in the discriminator's features: sees a dropped mode) or ``density-coverage`` (density
    and coverage of the real samples' k-NN balls in those features: also sees unevenly covered
    modes; :mod:`arena.tournament.judgements`)."""

    def validate(self) -> None:
        _registered("rating system", self.system, ("system",))
        _registered("judgement", self.judgement, ("judgement",))


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
    """Matchings between selections (0: no selection); a multiple of ``review.every``."""
    replace: Annotated[int, Ge(1)] = 1
    """How many of the worst agents of each role are replaced each time."""
    mutate: MutateConfig = dataclasses.field(default_factory=MutateConfig)
    """Perturbation of the copies' hyper-parameters."""
    by: Literal["rating", "diversity"] = "rating"
    """What ranks the generators: ``rating`` (their ratings, as for the discriminators) or
    ``diversity`` (images only: their review samples' mean pairwise distance over the held-out
    data's, read as ``min(d, 1/d)``; it reads no labels). With ``diversity`` only a generator below
    ``min_diversity`` is replaced, by a copy of the most diverse one, so healthy lineages are kept.
    On images a weak discriminator's ratings can favour a generator collapsed onto one convincing
    image, and selection by rating then spreads the collapse."""
    min_diversity: Annotated[float, Gt(0), Le(1)] = 0.5
    """With ``by: diversity``: the diversity below which a generator counts as collapsed (the
    collapse warning's threshold)."""


@dataclasses.dataclass
class MixtureConfig:
    """The tournament's final generator: a weighted mixture of its best generators."""

    top: Annotated[int, Ge(0)] = 0
    """How many of the best-rated generators (0: all of them)."""
    weights: str = "rating"
    """An id of the mixture-weighting registry: ``uniform``, ``rating`` (proportional to
    Bradley-Terry strength, ``10^(rating/400)``), ``nash`` (the maximum-entropy Nash equilibrium
    of the payoff matrix), ``heldout`` (minimising the kernel MMD to held-out real data) or
    ``oracle-modes`` (fitted to a toy mixture's true modes: for toy studies only)."""

    def validate(self) -> None:
        if self.weights == "quality":  # its old name: configs and run directories written before keep working
            warnings.warn("mixture.weights: 'quality' is now called 'oracle-modes' (it fits the weights to the toy "
                          "data's true modes, which real data does not have); use nash or heldout", DeprecationWarning,
                          stacklevel=2)
            self.weights = "oracle-modes"
        _registered("mixture weighting", self.weights, ("weights",))


@dataclasses.dataclass
class LeagueConfig:
    """A league: frozen snapshots of the best agents join the pool as opponents that are played and
    rated but not trained (:mod:`arena.tournament.league`)."""

    every: Annotated[int, Ge(0)] = 0
    """Matchings between snapshots of the best-rated generator and discriminator (0: no league);
    a multiple of ``review.every``."""
    keep: Annotated[int, Ge(1)] = 4
    """Snapshots kept per role (the oldest go first)."""
    play_every: Annotated[int, Ge(1)] = 1
    """Matchings between the league's extra matches (each learner against a snapshot)."""


@dataclasses.dataclass
class ComputeConfig:
    """How matches are computed: batched or one by one, precision, compilation. None of these
    changes what is computed beyond float rounding; the GPU-only ones fall back, with one
    warning, where they are not supported."""

    execution: Literal["auto", "batched", "one-by-one"] = "auto"
    """How a matching's matches run. ``batched``: the pair matches of a matching whose agents share an architecture (and whose
    game is played by its losses alone) run as one stacked computation (torch.func.vmap);
    ``one-by-one``: every match in turn; ``auto``: batched wherever two or more matches can be
    stacked."""
    precision: Literal["auto", "fp32", "tf32", "bf16", "fp16"] = "auto"
    """``auto``: ``tf32`` on a CUDA device, ``fp32`` elsewhere. ``fp32``: strict float32 everywhere
    (no TF32 in matrix products or convolutions, for bit-level comparisons across GPUs). ``tf32``:
    float32 tensors, matrix products and convolutions on a CUDA device's TF32 units (10-bit
    mantissa products, float32 sums). ``bf16`` or ``fp16`` run forward passes under autocast on
    a CUDA device (``fp16`` with loss scaling per agent). The CUDA-only ones fall back to ``fp32``
    elsewhere, with one warning."""
    compile: bool | Literal["auto"] = "auto"
    """``true``: compile every agent's network and the stacked matches' whole round (the fused
    round) with ``torch.compile`` (each falls back to eager where compiling fails). ``auto``: on
    a CUDA device, the fused round (with CUDA graphs, see ``cuda_graphs``) and eager networks; on
    a CPU, the fused round where it repays its compile: a run of at least 12,000 stacked
    pair-rounds of fully connected agents (benchmarks/RESULTS.md, "fast by default"); eager
    otherwise. ``false``: eager."""
    cuda_graphs: bool | Literal["auto"] = "auto"
    """On a CUDA device, replay the stacked matches' kernels as CUDA graphs (``torch.compile``
    mode ``reduce-overhead``): less launch overhead for small models; single networks are
    not replayed as graphs. ``auto``: on wherever the fused round is compiled on a CUDA device.
    Ignored elsewhere (``true`` warns once)."""


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
    review: ReviewConfig = dataclasses.field(default_factory=ReviewConfig)
    """The periodic review (samples, metrics, cross-play, ratings, the mixture) and sample pictures."""
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
    panel: PanelConfig = dataclasses.field(default_factory=PanelConfig)
    """The discriminator panel that filters the output."""
    league: LeagueConfig = dataclasses.field(default_factory=LeagueConfig)
    """Frozen snapshots as extra opponents."""
    compute: ComputeConfig = dataclasses.field(default_factory=ComputeConfig)
    """Batched matchings, mixed precision and compilation."""
    origin: ConfigOrigin | None = dataclasses.field(default=None, init=False, repr=False, compare=False)
    """Where the values came from (file, lines, ``--set``), so that errors found later, when the
    arena builds what the config names, are located like those found now. Not part of the config."""

    def validate(self) -> None:
        check_device(self.device, ("device",))
        if self.seed >= 2**63:
            raise ConfigError(f"expected a seed below 2**63 (64 bits), got {self.seed}", ("seed",))
        if not re.match(r"^[A-Za-z0-9_.\-]+$", self.name):
            raise ConfigError(f"expected letters, digits, '_', '-' and '.', got {self.name!r}", ("name",))
        if not self.agents:
            raise ConfigError("expected at least one generator and one discriminator, got an empty list", ("agents",))
        total = sum(spec.count for spec in self.agents)
        if total > MAX_AGENTS:
            big = max(range(len(self.agents)), key=lambda i: self.agents[i].count)
            raise ConfigError(f"the agents' counts add up to {total:,} agents, more than the {MAX_AGENTS:,} a run may hold",
                              ("agents", big, "count"))
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
        if self.selection.every and self.selection.every % self.review.every:
            raise ConfigError(
                f"selection uses the ratings of the latest review, so its period must be a multiple of "
                f"review.every ({self.review.every}), got {self.selection.every}",
                ("selection", "every"),
            )
        if self.league.every and self.league.every % self.review.every:
            raise ConfigError(
                f"snapshots are taken of the best-rated agents at a review, so league.every must be a multiple of "
                f"review.every ({self.review.every}), got {self.league.every}",
                ("league", "every"),
            )
        if self.compute.execution == "batched" and self.compute.precision == "fp16":
            raise ConfigError(
                "batched matchings do not scale losses, which fp16 needs; use precision bf16 or execution one-by-one",
                ("compute", "execution"),
            )

    @property
    def generator_names(self) -> list[str]:
        return [n for s in self.agents if s.role == "generator" for n in agent_names(s)]

    @property
    def discriminator_names(self) -> list[str]:
        return [n for s in self.agents if s.role == "discriminator" for n in agent_names(s)]
