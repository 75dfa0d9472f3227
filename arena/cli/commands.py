"""The ``arena`` command line: run, resume, sample, eval, leaderboard, ratings, check, list.

A user's mistake (a bad config, a missing file) is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["main"]

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="arena",
        description="Multi-agent adversarial games: GAN generators and discriminators as agents in tournaments.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="train from a config and write a new run directory")
    run.add_argument("config", help="YAML config file")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override a config value (repeatable), e.g. --set schedule.matchings=10")
    run.add_argument("--out", help="run directory to create (default: runs/<name>-<time>)")
    run.add_argument("--device", help="override the config's device (auto, cpu, cuda, cuda:N, mps)")
    run.add_argument("--download", action="store_true", help="allow the data source to download missing files")
    run.add_argument("--quiet", action="store_true", help="no progress display")

    resume = sub.add_parser("resume", help="continue a run from its last good checkpoint")
    resume.add_argument("run_dir")
    resume.add_argument("--device", help="override the run's device")
    resume.add_argument("--quiet", action="store_true", help="no progress display")

    sample = sub.add_parser("sample", help="draw samples from a trained generator")
    sample.add_argument("run_dir")
    who_s = sample.add_mutually_exclusive_group()
    who_s.add_argument("--agent", help="generator name (default: the first generator)")
    who_s.add_argument("--mixture", action="store_true", help="the tournament's mixture of its best generators")
    sample.add_argument("-n", type=int, default=2500, help="number of samples (default 2500)")
    sample.add_argument("--seed", type=int, default=0, help="seed of the latent draws (default 0)")
    sample.add_argument("-o", "--output", required=True, help="output file: .npy (N x data shape) or .png")
    sample.add_argument("--device", default="cpu", help="device to sample on (default cpu)")

    ev = sub.add_parser("eval", help="evaluate a trained generator; prints a table and writes eval.json")
    ev.add_argument("run_dir")
    who = ev.add_mutually_exclusive_group()
    who.add_argument("--agent", help="generator name (default: every generator)")
    who.add_argument("--mixture", action="store_true", help="the mixture of the best generators (tournaments)")
    ev.add_argument("--metrics", help="comma-separated metrics (default: all that apply to the data)")
    ev.add_argument("--seed", type=int, default=0, help="seed of the latent draws (default 0)")
    ev.add_argument("-n", type=int, help="samples (default 2500; 10000 with parzen)")
    ev.add_argument("--device", default="cpu", help="device to evaluate on (default cpu)")

    board = sub.add_parser("leaderboard", help="print a run's latest leaderboard")
    board.add_argument("run_dir")

    rate = sub.add_parser("ratings", help="recompute ratings from a run's recorded cross-play results")
    rate.add_argument("run_dir")
    rate.add_argument("--system", default=None, help="elo, glicko2 or bradley-terry (default: the run's)")

    check = sub.add_parser("check", help="validate a config and build everything it names, without training")
    check.add_argument("config")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")

    sub.add_parser("list", help="list registered games, networks, data sources, optimizers, priors, schedules and rating systems")
    return p


# --------------------------------------------------------------------------- commands


def _train(tournament, run_dir: Path, quiet: bool, title: str, comm=None) -> int:
    """Play the tournament with a display (rank 0 only) and say how it ended."""
    lead = comm is None or comm.rank == 0
    try:
        code = _play(tournament, run_dir, quiet or not lead, title)
    finally:
        if comm is not None:
            comm.close()
    if lead:
        print(f"run finished: {run_dir}" if code == 0 else
              f"stopped after matching {tournament.matching}; continue with: arena resume {run_dir}",
              file=sys.stdout if code == 0 else sys.stderr)
    return code


def _play(tournament, run_dir: Path, quiet: bool, title: str) -> int:
    from arena.cli.display import Display, graceful_interrupt

    display = Display(quiet, title)
    tournament.on_progress = display.on_progress
    tournament.on_event = display.on_event
    tournament.on_leaderboard = display.on_leaderboard
    with display, graceful_interrupt(tournament):
        tournament.run()
    if tournament.matching < tournament.config.schedule.matchings:
        return EXIT_INTERRUPTED
    return 0


def _count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def cmd_run(args: argparse.Namespace) -> int:
    from arena.engine.arena import build_arena
    from arena.config import load_config
    from arena.engine.distributed import from_env
    from arena.rundir.rundir import create_run_dir
    from arena.tournament.loop import Tournament

    overrides = list(args.overrides) + (["data.download=true"] if args.download else [])
    config = load_config(args.config, overrides)
    comm, device = from_env(args.device or config.device)
    arena = build_arena(config, device=device)
    lead = comm is None or comm.rank == 0
    run_dir = create_run_dir(config, args.out, arena.device) if lead else None
    if comm is not None:
        run_dir = Path(comm.broadcast(str(run_dir) if lead else None))
    if not args.quiet and lead:
        ranks = f"; {comm.world} ranks" if comm else ""
        print(f"run directory: {run_dir}\n{arena.data.describe()}; {_count(arena.generators, 'generator')} x "
              f"{_count(arena.discriminators, 'discriminator')}; game {arena.game.id}; device {arena.device}{ranks}",
              file=sys.stderr)
    tournament = Tournament(arena, run_dir, comm=comm)
    return _train(tournament, run_dir, args.quiet, config.name, comm)


def _load_arena(run_dir: str, device: str | None):
    """The arena of a run directory, built from its resolved config (no state loaded yet)."""
    from arena.engine.arena import build_arena
    from arena.config import load_config
    from arena.rundir.rundir import CONFIG_FILE, check_run_dir

    path = check_run_dir(run_dir)
    return path, build_arena(load_config(path / CONFIG_FILE), device=device)


def cmd_resume(args: argparse.Namespace) -> int:
    from arena.engine.arena import build_arena
    from arena.config import load_config
    from arena.engine.distributed import from_env
    from arena.rundir.rundir import CONFIG_FILE, check_run_dir
    from arena.tournament.loop import Tournament

    path = check_run_dir(args.run_dir)
    config = load_config(path / CONFIG_FILE)
    comm, device = from_env(args.device or config.device)
    tournament = Tournament(build_arena(config, device=device), path, comm=comm)
    tournament.resume()
    total = tournament.config.schedule.matchings
    lead = comm is None or comm.rank == 0
    if tournament.matching >= total:
        if comm is not None:
            comm.close()
        if lead:
            print(f"{path} is already complete ({total} matchings)")
        return 0
    if not args.quiet and lead:
        print(f"resuming {path} at matching {tournament.matching} of {total}", file=sys.stderr)
    return _train(tournament, path, args.quiet, tournament.config.name, comm)


def cmd_sample(args: argparse.Namespace) -> int:
    from arena.core.errors import ConfigError
    from arena.evaluation.measure import draw_samples
    from arena.rundir.pictures import save_samples_picture

    if args.n < 1:
        raise ConfigError(f"-n: expected a positive number of samples, got {args.n}")
    out = Path(args.output)
    if out.suffix not in (".npy", ".png"):
        raise ConfigError(f"-o: expected a .npy or .png file, got {out.name!r}")
    from arena.rundir.checkpoint import load_checkpoint

    path, arena = _load_arena(args.run_dir, args.device)
    state = load_checkpoint(path)
    arena.load_state_dict(state)  # read-only: a run in progress is not disturbed
    agent = _mixture(arena, state) if args.mixture else arena.generator(args.agent)
    name = agent.name if not args.mixture else repr(agent)
    samples = draw_samples(agent, args.n, args.seed, batch=args.n)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, samples.cpu().numpy())
    else:
        save_samples_picture(samples, out, arena.data, title=f"{name}, {args.n} samples, seed {args.seed}")
    print(f"wrote {args.n} samples of {name} (shape {tuple(samples.shape[1:])}) to {out}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import json
    import time

    from rich.console import Console
    from rich.table import Table

    from arena.rundir.checkpoint import load_checkpoint
    from arena.core.errors import ConfigError
    from arena.evaluation.measure import evaluate

    if args.n is not None and args.n < 2:
        raise ConfigError(f"-n: expected at least 2 samples, got {args.n}")
    path, arena = _load_arena(args.run_dir, args.device)
    state = load_checkpoint(path)
    arena.load_state_dict(state)
    if args.mixture:
        generators = [_mixture(arena, state)]
    else:
        generators = [arena.generator(args.agent)] if args.agent else list(arena.generators)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True, log_path=False)
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True)
    tasks: dict[str, int] = {}

    def progress(task: str, done: int, total: int) -> None:
        if task not in tasks:
            tasks[task] = bars.add_task(task, total=total)
        bars.update(tasks[task], completed=done, total=total)

    results = {}
    with bars:
        for g in generators:
            tasks.clear()
            results[g.name] = evaluate(arena, g, metrics, args.n, args.seed, progress=progress)
    table = Table(title=f"{path}: matching {state['matching']} ({state['rounds']:,} rounds), seed {args.seed}")
    table.add_column("metric")
    for name in results:
        table.add_column(name, justify="right")
    keys = list(dict.fromkeys(k for r in results.values() for k in r))
    for k in keys:
        cells = [results[name].get(k) for name in results]
        table.add_row(k, *[f"{v:.4g}" if isinstance(v, float) else str(v if v is not None else "") for v in cells])
    Console().print(table)
    out = path / "eval.json"
    previous = json.loads(out.read_text()) if out.is_file() else {}
    for name, r in results.items():
        previous[name] = {"matching": state["matching"], "rounds": state["rounds"], "seed": args.seed,
                          "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **r}
    out.write_text(json.dumps(previous, indent=1))
    print(f"wrote {out}")
    return 0


def _mixture(arena, state):
    from arena.tournament.standings import mixture_from_state

    return mixture_from_state(arena, state)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from rich.console import Console

    from arena.tournament.leaderboard import leaderboard_table, read_leaderboard
    from arena.rundir.rundir import check_run_dir

    path = check_run_dir(args.run_dir)
    board = read_leaderboard(path)
    mixture = board.get("mixture")
    title = f"{path}: matching {board['matching']} ({board['rounds']:,} rounds), ratings: {board['system']}"
    shown = mixture if len(board["rows"]) > 2 else None  # a 1 x 1 run's mixture is its generator
    Console().print(leaderboard_table(board["rows"], title, shown))
    return 0


def cmd_ratings(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    from arena.config import load_config
    from arena.core.errors import RunDirError
    from arena.tournament.ratings import SYSTEMS, compute_ratings
    from arena.rundir.rundir import CONFIG_FILE, check_run_dir
    from arena.tournament.standings import RESULTS_FILE

    path = check_run_dir(args.run_dir)
    system = args.system or load_config(path / CONFIG_FILE).ratings.system
    results_file = path / RESULTS_FILE
    if not results_file.is_file():
        raise RunDirError(f"{path} has no {RESULTS_FILE} yet (it is written at the first evaluation)")
    results = json.loads(results_file.read_text())
    ratings = compute_ratings(system, results)
    table = Table(title=f"{path}: {system} ({SYSTEMS[system][1]}), {len(results)} evaluations", title_justify="left")
    for column in ("agent", "rating", "±", "games"):
        table.add_column(column, justify="left" if column == "agent" else "right")
    for name, r in sorted(ratings.items(), key=lambda item: -item[1].rating):
        table.add_row(name, f"{r.rating:.1f}", "" if r.uncertainty is None else f"{r.uncertainty:.1f}", str(r.games))
    Console().print(table)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from arena.engine.arena import build_arena
    from arena.config import load_config

    config = load_config(args.config, args.overrides)
    arena = build_arena(config, device="cpu")
    params = sum(a.num_parameters() for a in arena.agents.values())
    print(
        f"{args.config}: ok: {arena.data.describe()}; game {arena.game.id}; "
        f"{_count(arena.generators, 'generator')}, {_count(arena.discriminators, 'discriminator')}, {params:,} parameters"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    import games
    from agents import latents, lr_schedules, networks, optimizers
    from arena.data import sources

    console = Console()
    for title, registry in (
        ("games", games.registry),
        ("networks", networks),
        ("data sources", sources),
        ("optimizers", optimizers),
        ("learning-rate schedules", lr_schedules),
        ("latent priors", latents),
    ):
        table = Table(title=title, title_justify="left", show_header=False, box=None)
        for id in registry.ids():
            table.add_row(f"[bold]{id}[/bold]", registry.description(id))
        console.print(table)
    from arena.tournament.ratings import SYSTEMS
    from arena.tournament.schedules import SCHEDULES

    for title, described in (("schedules", SCHEDULES), ("rating systems", {k: v[1] for k, v in SYSTEMS.items()})):
        table = Table(title=title, title_justify="left", show_header=False, box=None)
        for id, text in described.items():
            table.add_row(f"[bold]{id}[/bold]", text)
        console.print(table)
    console.print("networks may also be 'module:Class' naming a torch.nn.Module subclass")
    return 0


COMMANDS = {
    "run": cmd_run,
    "resume": cmd_resume,
    "sample": cmd_sample,
    "eval": cmd_eval,
    "leaderboard": cmd_leaderboard,
    "ratings": cmd_ratings,
    "check": cmd_check,
    "list": cmd_list,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``arena`` and ``python -m arena``; returns the exit code."""
    from arena.core.errors import ArenaError

    args = _parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("default", category=RuntimeWarning)
            return COMMANDS[args.command](args)
    except ArenaError as exc:
        print(f"arena {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
