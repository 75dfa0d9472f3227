"""The Python API: run a config, resume a run directory, load one to sample from and evaluate.

::

    import arena

    run = arena.run("configs/tournament_ring8.yaml", out="runs/demo")   # train; returns a Run
    x = run.sample(2500, agent="mixture", seed=0)                      # a tensor of samples
    print(run.evaluate(agent="mixture"))                               # the data's metrics
    print(run.leaderboard()["rows"][0])                                # the best-rated generator
    same = arena.load("runs/demo")                                     # later: the newest checkpoint
    arena.resume("runs/demo")                                          # continue a stopped run

The ``arena`` command line is a thin layer over these functions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from agents import Sampler, draw_samples
from arena.config import RunConfig, load_config
from arena.core import oserrors
from arena.core.errors import WRONG_SHAPE, ArenaError, CheckpointError, ConfigError
from arena.core.origin import ConfigOrigin
from arena.engine.arena import Arena, build_arena
from arena.engine.placement import Placement, place
from arena.evaluation.measure import measure
from arena.evaluation.protocol import protocol
from arena.output.mixture import mixture_from_record
from arena.output.record import OutputRecord
from arena.output.sampler import PanelSampler, panel_from_state
from arena.recording import callbacks as recording
from arena.recording.pictures import picture
from arena.report.build import build_report
from arena.rundir import RunDir
from arena.rundir.lock import RunLock
from arena.rundir.seeds import SeedsDir
from arena.tournament.callbacks import Callback, CallbackList
from arena.tournament.loop import Tournament
from arena.tournament.ratings import Rating, compute_ratings

__all__ = ["Run", "run", "resume", "load", "run_seeds", "report", "check", "describe"]


def _config(config: RunConfig | str | Path, overrides: Sequence[str]) -> RunConfig:
    if isinstance(config, RunConfig):
        if overrides:
            raise ConfigError("overrides apply to a config file; change the RunConfig itself instead")
        return config
    return load_config(config, overrides)


def restore(tournament: Tournament, run_dir: RunDir, state: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Load ``state`` (default: ``run_dir``'s newest good checkpoint) into ``tournament``; one
    that does not fit (of another structure, or weights of other shapes than the config's
    networks) is a :class:`CheckpointError` naming the run, not a traceback."""
    state = run_dir.load_checkpoint() if state is None else state
    try:
        tournament.load_state_dict(state, **kwargs)
    except (*WRONG_SHAPE, RuntimeError) as exc:
        text = str(exc).strip().splitlines()
        detail = f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
        raise CheckpointError(f"{run_dir.checkpoint_dir}: the checkpoint does not fit the run's config.yaml "
                              f"(edited since, or a checkpoint of something else): {detail}") from None


def _place(config: RunConfig, device: str | None, distributed: bool = True) -> Placement:
    """The run's placement (:func:`arena.engine.placement.place`); a device this machine lacks is
    located in the config file, as building the arena locates it."""
    try:
        return place(config.device, device, distributed)
    except ConfigError as exc:
        raise (config.origin or ConfigOrigin("<config>")).locate(exc) from None


def _note_data(run_dir: RunDir, info: dict[str, Any]) -> None:
    """Record how the data was read (an image folder's cache, crop, size and filter) in
    ``run.json``, and every file that could not be read in ``events.log``."""
    shown = {k: v for k, v in info.items() if k != "skipped" and isinstance(v, (str, int, float, bool, list, type(None)))}
    skipped = info.get("skipped") or []
    if shown:
        run_dir.add_info("data", {**shown, "skipped": len(skipped)} if "skipped" in info else shown)
    if skipped:
        run_dir.note(f"data: skipped {len(skipped)} unreadable image file(s) of {info.get('root')}: "
                     + "; ".join(f"{name} ({why})" for name, why in skipped))


def _lock(run_dir: RunDir, where: Placement) -> RunLock | None:
    """The run directory's lock, taken by the process that leads (it alone writes)."""
    return run_dir.lock().acquire() if where.lead else None


class Run:
    """A run: its directory, the arena built from its resolved config, and its tournament.

    Get one from :func:`run`, :func:`resume` or :func:`load` rather than constructing it.

    Attributes:
        dir: the run directory (None for a run that writes nothing).
        arena: the data, the agents and the game.
        tournament: the loop and its standings.
    """

    def __init__(self, run_dir: RunDir | None, arena: Arena, placement: Placement | None = None,
                 lock: RunLock | None = None) -> None:
        self.dir = run_dir
        self.arena = arena
        self.placement = placement or Placement(arena.device)
        self._lock = lock
        self._callbacks = CallbackList()
        self.tournament = Tournament(arena, [self._callbacks], comm=self.placement.comm)

    def __repr__(self) -> str:
        return f"Run({str(self.path) if self.dir else None!r}, matching {self.tournament.completed} of {self.config.schedule.matchings})"

    @property
    def config(self) -> RunConfig:
        """The resolved config."""
        return self.arena.config

    @property
    def path(self) -> Path | None:
        return self.dir.path if self.dir is not None else None

    @property
    def lead(self) -> bool:
        """Whether this process writes the run directory (rank 0, or the only process)."""
        return self.placement.lead

    @property
    def finished(self) -> bool:
        return self.tournament.finished

    @property
    def completed(self) -> int:
        """Matchings played so far."""
        return self.tournament.completed

    @property
    def rounds(self) -> int:
        """Pair-rounds played so far."""
        return self.tournament.rounds

    @property
    def output(self) -> OutputRecord | None:
        """The output the latest review chose: the mixture's components, weights and figures, and
        its panel's (calibration, acceptance, figures, or why it failed) where the panel is on;
        None before the first review."""
        return self.tournament.standings.output

    def describe(self) -> str:
        """One line on what plays: the data, the pool, the game and the device."""
        return describe(self.arena) + self.placement.describe()

    @property
    def compute(self) -> str:
        """One line on how the matches are computed (``compute``'s ``auto`` resolved) and why."""
        return self.tournament.compute.describe()

    # ------------------------------------------------------------------ making one
    @classmethod
    def create(cls, config: RunConfig | str | Path, out: str | Path | None = None, device: str | None = None,
               overrides: Sequence[str] = (), root: str | Path = "runs") -> Run:
        """Check ``config``, build its arena and make a new run directory (locked); nothing is played yet."""
        config = _config(config, overrides)
        where = _place(config, device)
        arena = build_arena(config, device=where.device)
        made = RunDir.create(config, out, arena.device, root) if where.lead else None
        run_dir = RunDir(where.comm.broadcast(str(made.path) if made else None)) if where.comm is not None else made
        assert run_dir is not None
        self = cls(run_dir, arena, where, _lock(run_dir, where))
        if where.lead:
            run_dir.add_info("compute", self.tournament.compute.record())
            _note_data(run_dir, arena.data.info)
        return self

    @classmethod
    def open(cls, path: str | Path, device: str | None = None) -> Run:
        """Open a run directory to continue training it (locked): its newest good checkpoint is
        loaded, or, where none was written yet, it starts over from the beginning."""
        run_dir = RunDir(path)
        config = run_dir.config()
        where = _place(config, device)
        lock = _lock(run_dir, where)
        try:
            if lock is not None and lock.since is not None:
                run_dir.remove_stale(lock.since)  # the temporary files of writes a crash cut short
            self = cls(run_dir, build_arena(config, device=where.device), where, lock)
            if run_dir.has_checkpoint():
                restore(self.tournament, run_dir)
            elif where.lead:
                warnings.warn(f"{run_dir} has no checkpoint yet; starting it over from the beginning", RuntimeWarning,
                              stacklevel=2)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return self

    @classmethod
    def load(cls, path: str | Path, device: str | None = "cpu") -> Run:
        """Open a run directory read-only, at its newest good checkpoint (a run in progress is not disturbed)."""
        run_dir = RunDir(path)
        config = run_dir.config()
        with warnings.catch_warnings():  # training's compute options (CUDA graphs, precision) do not apply here
            warnings.filterwarnings("ignore", message=r"compute\.", category=RuntimeWarning)
            self = cls(run_dir, build_arena(config, device=_place(config, device, distributed=False).device))
        restore(self.tournament, run_dir, global_rng=False)
        return self

    # ------------------------------------------------------------------ training
    def play(self, callbacks: Iterable[Callback] = (), progress: Callable[[str, int, int], None] | None = None) -> Run:
        """Play the schedule to its end (or to a requested stop), writing the run directory; the
        lock is released when this returns. ``progress`` reports long steps after the loop
        (writing the report) as ``progress(task, done, total)``."""
        oserrors.training(self.dir.path if self.dir is not None else None)  # an operating-system error says how to resume
        try:
            self._callbacks.callbacks = list(recording(self.dir if self.lead else None, self.config, callbacks, progress))
            if not self.finished:
                self.tournament.run()
            oserrors.training(None)
        finally:
            self._callbacks.callbacks = []
            if self._lock is not None and self._lock.since is not None and self.dir is not None and self.finished:
                with contextlib.suppress(OSError):  # tidying must not hide what ended the run
                    self.dir.remove_stale(self._lock.since)
            if self._lock is not None:
                self._lock.release()
                self._lock = None
            if self.placement.comm is not None:
                self.placement.comm.close()
        return self

    # ------------------------------------------------------------------ using the result
    def generator(self, agent: str | None = None, raw: bool = False, panel: bool = True) -> Sampler:
        """The generator named ``agent`` (default: the first), or ``"mixture"``: the tournament's
        output, its mixture filtered by the discriminator panel where the config turns it on
        (``panel=False``: unfiltered); as the world sees them (weight averages where EMA is on)
        unless ``raw`` (the trained weights, no panel)."""
        if agent == "mixture":
            record = self.tournament.standings.output
            mixture = mixture_from_record(record, lambda name: self.arena.generator(name) if raw
                                          else self.arena.generator(name).output())
            if panel and not raw and record and record.panel is not None:
                return panel_from_state(mixture, record.panel.calibration, self.arena.agent, self.config.panel,
                                        self.arena.data)
            return mixture
        g = self.arena.generator(agent)
        return g if raw else g.output()

    def sample(self, n: int, agent: str | None = None, seed: int = 0, raw: bool = False, panel: bool = True) -> torch.Tensor:
        """``n`` samples (``n x data shape``) of a generator or of the mixture (``agent="mixture"``),
        from latent draws seeded by ``seed``: the same draws as ``arena sample --seed``; ``raw``:
        from the trained weights rather than their average (where EMA is on)."""
        if n < 1:
            raise ConfigError(f"-n: expected a positive number of samples, got {n}")
        self.check_samples(n)
        return draw_samples(self.generator(agent, raw, panel), n, seed, batch=n)

    def check_samples(self, n: int) -> None:
        """Refuse ``n`` samples that cannot fit in memory, before anything is allocated (the
        samples, a copy as the metrics read them, and the panel's candidates)."""
        from arena.core.resources import human_bytes
        from arena.engine.preflight import budget

        need = 4 * n * math.prod(self.arena.data.shape) * 4
        allowed, limit = budget(self.arena.device)
        if need > allowed:
            raise ConfigError(f"-n: {n:,} samples of shape {tuple(self.arena.data.shape)} need about "
                              f"{human_bytes(need)}, more than {human_bytes(allowed)} ({limit})")

    def picture(self, samples: torch.Tensor, path: str | Path, title: str = "", grid: int = 64) -> None:
        """Save ``samples`` of this run's data as their kind of data is pictured (PNG), as
        ``arena sample -o x.png`` does."""
        picture(samples, Path(path), self.arena.data, title=title, grid=grid)

    def evaluate(self, agent: str | None = None, metrics: list[str] | None = None, n: int | None = None, seed: int = 0,
                 progress: Callable[[str, int, int], None] | None = None, save: bool = True,
                 raw: bool = False, panel: bool = True, download: bool = False) -> dict[str, dict[str, Any]]:
        """Measure the data's metrics (default: every one that applies, but those measured only on
        request, as ``fid_inception``) on fresh samples.

        Args:
            agent: a generator's name, ``"mixture"``, or None for every generator.
            metrics: metric ids (``arena list`` shows them).
            n: samples (default 2,500; 10,000 with the Parzen window).
            seed: seed of the latent draws (the same draws as :meth:`sample`).
            progress: called as ``progress(task, done, total)`` during long computations.
            save: merge the results into the run directory's ``eval.json``.
            raw: the trained weights rather than their average (where EMA is on).
            panel: the mixture through its panel (where the config has one).
            download: fetch the Inception weights where a metric needs them and they are missing.

        Returns:
            the metrics, by agent; measuring every generator, each one's ``weight`` in the output's
            mixture too (0 for one it leaves out).
        """
        if n is not None and n < 2:
            raise ConfigError(f"-n: expected at least 2 samples, got {n}")
        if n is not None:
            self.check_samples(n)
        if agent is None:
            chosen: list[Any] = [g if raw else g.output() for g in self.arena.judged]
        else:
            chosen = [self.generator(agent, raw, panel)]
        checked = self.arena.discriminators[0]  # for the equilibrium check of 1-D data
        options = {"inception_weights": self.config.review.inception_weights, "download": download}
        results: dict[str, dict[str, Any]] = {
            g.name: measure(self.arena.data, g, metrics, n, seed, checked, progress, options) for g in chosen}
        for g, r in zip(chosen, results.values()):
            r["protocol"] = protocol(r["samples"], seed, classifier=r.pop("classifier", None),
                                     extractor=r.pop("extractor", None), reference=r.pop("reference", None))
            if isinstance(g, PanelSampler):
                r["panel"] = True  # the mixture as the discriminator panel filters it
        output = self.tournament.standings.output
        if agent is None and output is not None and len(chosen) > 1:  # each generator's part in the output
            weights = dict(zip(output.components, output.weights))
            for name, r in results.items():
                r["weight"] = weights.get(name, 0.0)
        if save and self.dir is not None:
            stamp = {"matching": self.tournament.completed, "rounds": self.tournament.rounds, "seed": seed,
                     "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
            self.dir.merge_evaluations({name: {**stamp, **r} for name, r in results.items()})
        return results

    def leaderboard(self) -> dict[str, Any]:
        """The latest leaderboard: ``matching``, ``rounds``, ``system``, ``mixture`` and ``rows``."""
        if self.dir is None:
            raise ArenaError("this run writes no run directory")
        return self.dir.leaderboard()

    def ratings(self, system: str | None = None) -> dict[str, Rating]:
        """Ratings recomputed from the recorded results under ``system`` (default: the run's)."""
        if self.dir is None:
            raise ArenaError("this run writes no run directory")
        return compute_ratings(system or self.config.ratings.system, self.dir.results())


def describe(arena: Arena) -> str:
    """One line on an arena: its data, its N x M pool, its game and its device."""
    def count(agents: Sequence[object], role: str) -> str:
        return f"{len(agents)} {role}{'s' if len(agents) != 1 else ''}"

    gens = count(arena.judged, "generator") + (" in families" if any(g.members for g in arena.generators) else "")
    return (f"{arena.data.describe()}; {gens} x {count(arena.discriminators, 'discriminator')}; "
            f"game {arena.game.id}; device {arena.device}")


def check(config: RunConfig | str | Path, device: str | None = None, overrides: Sequence[str] = ()) -> str:
    """Check a config and build everything it names (data, game, agents), training nothing, as
    ``arena check`` does; one line on what was built.

    Raises:
        ConfigError: anything ``arena run`` would refuse before training, a device the machine lacks included.
    """
    checked = _config(config, overrides)
    arena = build_arena(checked, device=_place(checked, device, distributed=False).device)
    params = sum(a.num_parameters() for a in arena.agents.values())
    return f"{describe(arena)}; {params:,} parameters"


def run(config: RunConfig | str | Path, out: str | Path | None = None, device: str | None = None,
        callbacks: Iterable[Callback] = (), overrides: Sequence[str] = ()) -> Run:
    """Train from a config (a file or a :class:`RunConfig`) into a new run directory.

    Args:
        config: the config, or the path of its YAML file.
        out: the run directory to create (default: ``runs/<name>-<time>``); it must not exist or be empty.
        device: overrides the config's device (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``).
        callbacks: called by the loop besides the run directory's writers (:class:`arena.tournament.Callback`),
            in the place :func:`arena.recording.callbacks` gives them.
        overrides: ``key.path=value`` settings applied to a config file, as ``arena run --set``.

    Returns:
        the :class:`Run`, finished (or stopped by a callback's :meth:`Tournament.request_stop`).
    """
    return Run.create(config, out, device, overrides).play(callbacks)


def resume(run_dir: str | Path, device: str | None = None, callbacks: Iterable[Callback] = ()) -> Run:
    """Continue a run from its newest good checkpoint (from the beginning where it has none yet)."""
    return Run.open(run_dir, device).play(callbacks)


def load(run_dir: str | Path, device: str | None = "cpu") -> Run:
    """A run directory at its newest good checkpoint, to sample from, evaluate and read."""
    return Run.load(run_dir, device)


def run_seeds(config: RunConfig | str | Path, seeds: Sequence[int], out: str | Path | None = None, device: str | None = None,
              callbacks: Callable[[int], Iterable[Callback]] | Iterable[Callback] = (), overrides: Sequence[str] = (),
              progress: Callable[[str, int, int], None] | None = None) -> SeedsDir:
    """Run ``config`` once per seed, one after another, into one parent directory (``seeds.json``
    records each seed's run and its output's final metrics); a parent directory that exists is
    continued (finished seeds are kept, stopped ones resumed, missing ones run). A seed stopped by
    Ctrl-C stops the rest; ``parent.finished`` says whether every seed is done.

    Args:
        callbacks: callbacks for every seed's run, or a function of the seed that returns them.
    """
    config = _config(config, overrides)
    parent = SeedsDir(out) if out is not None and SeedsDir.holds(out) else SeedsDir.create(config, list(seeds), out)
    for seed in parent.seeds:
        extra = callbacks(seed) if callable(callbacks) else callbacks
        path = parent.run_path(seed)
        if (path / RunDir.CONFIG).is_file():
            done = Run.open(path, device).play(extra, progress)
        else:
            seeded = dataclasses.replace(config, seed=seed)
            seeded.origin = config.origin
            done = Run.create(seeded, path, device).play(extra, progress)
        parent.record(seed)
        if not done.finished:  # stopped (Ctrl-C): the next resume goes on from here
            return parent
    if config.log.report:  # `log.report: false` turns off the seeds' report as it does each run's
        build_report(parent.path, progress=progress)
    return parent


def report(path: str | Path, out: str | Path | None = None, progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Write the report of a run directory or of a parent of seeds (default: its ``report.html``)."""
    return build_report(path, out, progress)
