"""The arena: device, seed, data, agents and game of one run, built from a config."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import torch

import games
from agents import Agent, Discriminator, FamilyMember, Generator, agent_names, build_agent
from arena.core.errors import ArenaError, ConfigError, DataError
from arena.core.origin import ConfigOrigin
from arena.core.registry import build
from arena.core.seeding import derive_seed
from arena.data import DataSource, DataStream, sources
from arena.engine.placement import resolve_device
from arena.engine.preflight import check_eval_memory, check_memory, check_panel, check_selection, check_shapes, check_sizes

if TYPE_CHECKING:  # pragma: no cover: the config sits above the engine (it checks names against every registry)
    from arena.config import RunConfig

__all__ = ["Arena", "build_arena"]


@dataclasses.dataclass
class Arena:
    """Everything a run plays with.

    Attributes:
        config: the resolved config.
        device: where agents and data live.
        data: the real data.
        game: the rules of every match.
        generators: generator agents, in config order (a family is one: it trains as one).
        discriminators: discriminator agents, in config order.
        stream: the batches of real data matches draw from.
    """

    config: RunConfig
    device: torch.device
    data: DataSource
    game: games.Game
    generators: list[Generator]
    discriminators: list[Discriminator]
    stream: DataStream
    agent_games: dict[str, games.Game] = dataclasses.field(default_factory=dict)
    """Games named by agent specs (``agents[i].game``), by agent name."""

    def game_for(self, generator: Agent, discriminator: Agent) -> games.Game:
        """The game a pair plays: the discriminator's own game, else the generator's, else the run's."""
        return self.agent_games.get(discriminator.name) or self.agent_games.get(generator.name) or self.game

    @property
    def agents(self) -> dict[str, Agent]:
        return {a.name: a for a in [*self.generators, *self.discriminators]}

    @property
    def judged(self) -> list[Any]:
        """The generators as everything that judges sees them (reviews, cross-play, ratings, the
        leaderboard, the mixture, pictures): each family's members in its place, in config order."""
        return [m for g in self.generators for m in (g.members or [g])]

    def agent(self, name: str) -> Agent:
        agents = self.agents
        if name not in agents:
            raise ConfigError(f"no agent named {name!r} in this run (agents: {', '.join(agents)})")
        return agents[name]

    def generator(self, name: str | None = None) -> Generator | FamilyMember:
        """The generator named ``name`` (a family's member too; default: the first one judged)."""
        if not name:
            return self.judged[0]
        members = {m.name: m for g in self.generators for m in g.members}
        if name in members:
            return members[name]
        agent = self.agent(name)
        if not isinstance(agent, Generator):
            names = ", ".join(g.name for g in self.generators)
            raise ArenaError(f"{name} is a {agent.role}; choose a generator ({names})")
        return agent

    def state_dict(self) -> dict[str, Any]:
        """Every agent, the data stream and the loop's global random state (dropout draws from it)."""
        rng: dict[str, Any] = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "agents": {name: agent.state_dict() for name, agent in self.agents.items()},
            "stream": self.stream.state_dict(),
            "rng": rng,
        }

    def load_state_dict(self, state: dict[str, Any], global_rng: bool = True) -> None:
        """Restore :meth:`state_dict`; with ``global_rng`` False, torch's global random state and
        the agents' own streams are left alone (reading a run must not disturb the caller's state,
        and needs no stream: samples for reading come from seeded generators of their own)."""
        agents = self.agents
        missing = sorted(set(agents) - set(state["agents"]))
        if missing:
            raise ConfigError(f"the checkpoint holds no state for agents {missing}; was the config changed?")
        for name, agent in agents.items():
            agent.load_state_dict(state["agents"][name], stream=global_rng)
        self.stream.load_state_dict(state["stream"])
        if not global_rng:
            return
        torch.set_rng_state(state["rng"]["cpu"])
        if self.device.type == "cuda" and "cuda" in state["rng"]:
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)


def build_arena(config: RunConfig, device: torch.device | None = None) -> Arena:
    """Build the data, the game and every agent that ``config`` names.

    Args:
        config: a checked config.
        device: where to build it, resolved (a run passes its :class:`arena.engine.placement.Placement`'s);
            None: ``config.device``, resolved here.

    Raises:
        ConfigError: a value that only building reveals as wrong (an unknown network key, a
            network that does not fit the data), located by file, line and key path.
        DataError: missing or malformed data files.
    """
    origin = config.origin or ConfigOrigin("<config>")
    try:
        dev = device if device is not None else resolve_device(config.device)
        data = build(config.data, sources, ("data",), seed=derive_seed(config.seed, "data"))
        game_spec = dict(config.game)
        if "id" not in game_spec:
            raise ConfigError(f"missing key 'id' (one of: {', '.join(games.registry.ids())})", ("game",))
        game = games.make(game_spec.pop("id"), path=("game",), **game_spec)
        check_memory(config.agents, data, dev)
        check_eval_memory(config, data, dev)
        data.to(dev)
        if not game.shape.pair and config.schedule.type != "round-robin":
            raise ConfigError(f"{game.id} plays teams in turn; only schedule type round-robin applies", ("schedule", "type"))
        spec_games = _spec_games(config, game)
        n_generators = len(config.generator_names)
        members = _check_families(config, [game, *spec_games.values()])
        built: list[tuple[Agent, int]] = []
        agent_games: dict[str, games.Game] = {}
        for i, spec in enumerate(config.agents):
            own = spec_games.get(i, game)
            outputs = own.d_outputs(n_generators, members) if spec.role == "discriminator" else 1
            for name in agent_names(spec):
                seed = derive_seed(config.seed, "agent", name)
                built.append((build_agent(spec, name, data.space(), seed, dev, path=("agents", i), outputs=outputs), i))
                if i in spec_games:
                    agent_games[name] = spec_games[i]
        _check_packing(config, game, spec_games)
        check_panel(config.panel, data)
        check_selection(config.selection, data)
        check_sizes(config, data, max((a.pack for a, _ in built if isinstance(a, Discriminator)), default=1))
        check_shapes(built, data)
        _check_batch_norm(config, built)
    except ConfigError as exc:
        raise origin.locate(exc) from None
    except DataError as exc:
        raise DataError(f"{origin.source}: data: {exc}") from None
    agents = [agent for agent, _ in built]
    stream = data.stream(config.schedule.batch_size, derive_seed(config.seed, "data", "stream"))
    return Arena(
        config=config,
        device=dev,
        data=data,
        game=game,
        generators=[a for a in agents if isinstance(a, Generator)],
        discriminators=[a for a in agents if isinstance(a, Discriminator)],
        stream=stream,
        agent_games=agent_games,
    )


def _check_batch_norm(config: RunConfig, built: list[tuple[Agent, int]]) -> None:
    """BatchNorm in training mode needs at least two samples a channel: a batch of one (or of
    one pack) would fail inside the network at the first round, blamed on it rather than on the
    batch size."""
    for agent, i in built:
        per_call = config.schedule.batch_size // max(1, getattr(config.agents[i], "pack", 1))
        if per_call < 2 and any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in agent.net.modules()):
            raise ConfigError(f"batch size {config.schedule.batch_size} gives {agent.name}'s BatchNorm layers "
                              f"{per_call} sample a batch; they need at least 2", ("schedule", "batch_size"))


def _check_families(config: RunConfig, played: list[games.Game]) -> int:
    """The members of the run's families (1 where there is none): one size for every family, and
    the parts of a run that do not yet know families refused here rather than part-way."""
    sizes = {spec.members for spec in config.agents if spec.role == "generator"}
    families = [i for i, spec in enumerate(config.agents) if spec.role == "generator" and spec.members > 1]
    if families and len(sizes) > 1:
        raise ConfigError(f"every generator spec of a run with families needs the same members (got {sorted(sizes)}): "
                          f"the discriminators' identity classifier has one output per member", ("agents", families[0], "members"))
    members = max(sizes, default=1)
    if any(g.identity and not g.shape.generators == "one" for g in played):
        raise ConfigError("the identity signal tells a family's members apart; this game plays several generators "
                          "in one match", ("game", "identity"))
    if any(g.identity for g in played) and members < 2:
        raise ConfigError("game.identity is the members' identity signal; it needs generators in families "
                          "(agents[i].members >= 2)", ("game", "identity"))
    if families and config.selection.every:
        raise ConfigError("selection replaces whole agents, and a family's members are rated one by one; turn "
                          "selection off (selection.every: 0) for a run with families", ("selection", "every"))
    if families and config.league.every:
        raise ConfigError("the league's snapshots are of whole agents; turn it off (league.every: 0) for a run with "
                          "families", ("league", "every"))
    if families and any(spec.pack > 1 for spec in config.agents):
        raise ConfigError("a packed discriminator judges packs of one generator's samples; a family's batches "
                          "mix its members", ("agents", families[0], "members"))
    return members


def _check_packing(config: RunConfig, game: games.Game, spec_games: dict[int, games.Game]) -> None:
    """Packed discriminators judge packs of samples of one source: their games must be pair games
    on samples, and every batch must split into whole packs."""
    for i, spec in enumerate(config.agents):
        if spec.role != "discriminator" or spec.pack == 1:
            continue
        own = spec_games.get(i, game)
        if not own.shape.pair or own.generator_kind != "sample":
            raise ConfigError(f"{own.id} judges single samples; packing (pack: {spec.pack}) needs a pair game on samples "
                              f"such as gan-v0", ("agents", i, "pack"))
        if config.schedule.batch_size % spec.pack:
            raise ConfigError(f"batch size {config.schedule.batch_size} does not split into packs of {spec.pack}; use a "
                              f"multiple of {spec.pack}", ("schedule", "batch_size"))


def _spec_games(config: RunConfig, game: games.Game) -> dict[int, games.Game]:
    """Games named by agent specs, by spec index; checks that every generator spec's output
    suits the games it plays, and that multi-player games are not mixed with others."""
    spec_games: dict[int, games.Game] = {}
    for i, spec in enumerate(config.agents):
        if spec.game is None:
            continue
        own = dict(spec.game)
        if "id" not in own:
            raise ConfigError(f"missing key 'id' (one of: {', '.join(games.registry.ids())})", ("agents", i, "game"))
        spec_games[i] = games.make(own.pop("id"), path=("agents", i, "game"), **own)
    for i, g in [(None, game), *spec_games.items()]:
        if spec_games and not g.shape.pair:
            where = ("game", "id") if i is None else ("agents", i, "game", "id")
            raise ConfigError(f"{g.id} is a multi-player game; agents cannot name games of their own beside it", where)
    kinds = {g.generator_kind for g in [game, *spec_games.values()]}
    for i, spec in enumerate(config.agents):
        if spec.role != "generator":
            continue
        needed = spec_games[i].generator_kind if i in spec_games else None
        for kind in [needed] if needed else kinds:
            if spec.output != kind:
                raise ConfigError(
                    f"the game trains {kind} generators (output: {kind}), and this generator has output: {spec.output}",
                    ("agents", i, "output"),
                )
    return spec_games
