"""The ``arena`` command line: run, resume, sample, eval, leaderboard, ratings, check, list.

A thin layer over the Python API (:mod:`arena.api`): each command parses its arguments, calls
the API and prints. A user's mistake (a bad config, a missing file) is one line on stderr and
exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "EXIT_USER_ERROR", "EXIT_INTERRUPTED"]

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gan-arena")
    except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="arena",
        description="Multi-agent adversarial games: GAN generators and discriminators as agents in tournaments.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="train from a config and write a new run directory")
    run.add_argument("config", help="YAML config file")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override a config value (repeatable), e.g. --set schedule.matchings=10")
    run.add_argument("--out", help="run directory to create (default: runs/<name>-<time>)")
    run.add_argument("--device", help="override the config's device (auto, cpu, cuda, cuda:N, mps)")
    run.add_argument("--download", action="store_true", help="allow the data source to download missing files")
    run.add_argument("--quiet", action="store_true", help="no progress display")
    run.add_argument("--seeds", help="run once per seed into one parent directory, e.g. --seeds 0,1,2")

    resume = sub.add_parser("resume", help="continue a run (or a directory of seeds) from its last good checkpoint")
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
    sample.add_argument("--raw", action="store_true", help="the trained weights, not their moving average (where EMA is on)")
    sample.add_argument("--no-panel", action="store_true", help="the mixture unfiltered by the discriminator panel")

    ev = sub.add_parser("eval", help="evaluate a trained generator; prints a table and writes eval.json")
    ev.add_argument("run_dir")
    who = ev.add_mutually_exclusive_group()
    who.add_argument("--agent", help="generator name (default: every generator)")
    who.add_argument("--mixture", action="store_true", help="the mixture of the best generators (tournaments)")
    ev.add_argument("--metrics", help="comma-separated metrics (default: all that apply to the data)")
    ev.add_argument("--seed", type=int, default=0, help="seed of the latent draws (default 0)")
    ev.add_argument("-n", type=int, help="samples (default 2500; 10000 with parzen)")
    ev.add_argument("--device", default="cpu", help="device to evaluate on (default cpu)")
    ev.add_argument("--raw", action="store_true", help="the trained weights, not their moving average (where EMA is on)")
    ev.add_argument("--no-panel", action="store_true", help="the mixture unfiltered by the discriminator panel")

    board = sub.add_parser("leaderboard", help="print a run's latest leaderboard")
    board.add_argument("run_dir")

    rate = sub.add_parser("ratings", help="recompute ratings from a run's recorded cross-play results")
    rate.add_argument("run_dir")
    rate.add_argument("--system", default=None, help="elo, glicko2 or bradley-terry (default: the run's)")

    report = sub.add_parser("report", help="write a run's (or a directory of seeds') self-contained HTML report")
    report.add_argument("run_dir")
    report.add_argument("-o", "--output", help="the HTML file (default: RUN_DIR/report.html)")

    comp = sub.add_parser("compare", help="compare runs or directories of seeds: mean ± s.e., worst seed, Welch's t-test")
    comp.add_argument("runs", nargs="+", metavar="RUN_OR_PARENT")
    comp.add_argument("--agent", default="output", help="the output (default: the mixture, or a 1 x 1 run's generator) or a name")
    comp.add_argument("--source", choices=["eval", "training"], default=None,
                      help="eval.json (arena eval) or the last evaluation of training (default: eval where every run has it)")
    comp.add_argument("--any-protocol", action="store_true", help="compare numbers measured under different protocols")
    comp.add_argument("-o", "--output", default="compare.md", help="the Markdown table (default: compare.md)")

    league = sub.add_parser("league", help="rate the generators of several runs against one common panel of discriminators")
    league.add_argument("runs", nargs="+", metavar="RUN_DIR")
    league.add_argument("--judge", default="game", help="game (balanced accuracy by default), auc or likelihood")
    league.add_argument("--system", default="glicko2", help="elo, glicko2 or bradley-terry (default glicko2)")
    league.add_argument("--checkpoints", choices=["last", "all"], default="last",
                        help="each run's newest checkpoint, or every checkpoint kept (snapshots of its training)")
    league.add_argument("-n", type=int, default=2500, help="samples per generator (default 2500)")
    league.add_argument("--seed", type=int, default=0, help="seed of the latent draws (default 0)")
    league.add_argument("--truth", action="store_true",
                        help="also measure every generator with the data's metrics, and Spearman's rho of rating and each")
    league.add_argument("-o", "--output", help="write the league as JSON")

    check = sub.add_parser("check", help="validate a config and build everything it names, without training")
    check.add_argument("config")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    check.add_argument("--device", help="override the config's device")

    sub.add_parser("list", help="list every registry: games, networks, data sources, optimizers, priors, "
                                "schedules, rating systems, mixture weightings, metrics")
    return p


# --------------------------------------------------------------------------- commands


def _count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _train(run, quiet: bool, header: str | None) -> int:
    """Play ``run`` with the display and Ctrl-C handling (rank 0 shows them) and say how it ended."""
    from arena.cli.display import Display, Interrupts

    if header and run.lead and not quiet:
        print(header, file=sys.stderr)
    with _steps() as progress:
        run.play([Display(run.config.name, quiet or not run.lead), Interrupts()], None if quiet else progress)
    if not run.lead:
        return 0 if run.finished else EXIT_INTERRUPTED
    if run.finished:
        print(f"run finished: {run.path}")
        return 0
    print(f"stopped after matching {run.tournament.completed}; continue with: arena resume {run.path}", file=sys.stderr)
    return EXIT_INTERRUPTED


def _seeds(text: str) -> list[int]:
    from arena.core.errors import ConfigError

    try:
        seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--seeds: expected comma-separated integers, got {text!r}") from None
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds: expected distinct non-negative integers, got {text!r}")
    return seeds


class _Steps:
    """Transient progress bars for long steps (the report, a Parzen estimate, a classifier's
    training), shown from the first report of a step until every step is done; usable as
    ``progress(task, done, total)`` while no other live display runs."""

    def __init__(self, console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                             console=console, transient=True)
        self.tasks: dict[str, int] = {}
        self.live = False

    def __call__(self, task: str, done: int, total: int) -> None:
        if not self.live:
            self.bars.start()
            self.live = True
        if task not in self.tasks:
            self.tasks[task] = self.bars.add_task(task, total=total)
        self.bars.update(self.tasks[task], completed=done, total=total)
        if all(t.finished for t in self.bars.tasks):
            self.close()

    def close(self) -> None:
        if self.live:
            self.bars.stop()
            self.live = False

    def __enter__(self) -> _Steps:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _steps(console=None) -> _Steps:
    from rich.console import Console

    return _Steps(console or Console(stderr=True, log_path=False))


def cmd_run(args: argparse.Namespace) -> int:
    from arena.config.safe_yaml import read_config_text

    read_config_text(args.config)  # a hostile file is refused here, before anything heavy is imported
    from arena.api import Run
    from arena.core.faults import Faults

    overrides = list(args.overrides) + (["data.download=true"] if args.download else [])
    if args.seeds:
        return _run_seeds(args, _seeds(args.seeds), overrides)
    run = Run.create(args.config, args.out, args.device, overrides, faults=Faults.from_env())
    arena = run.arena
    ranks = f"; {run.comm.world} ranks" if run.comm else ""
    header = (f"run directory: {run.path}\n{arena.data.describe()}; {_count(arena.generators, 'generator')} x "
              f"{_count(arena.discriminators, 'discriminator')}; game {arena.game.id}; device {arena.device}{ranks}")
    return _train(run, args.quiet, header)


def _play_seeds(config, seeds: list[int], out, args: argparse.Namespace) -> int:
    from arena.api import run_seeds
    from arena.cli.display import Display, Interrupts

    with _steps() as progress:
        parent = run_seeds(config, seeds, out, args.device,
                           lambda seed: [Display(f"{config.name} seed {seed}", args.quiet), Interrupts()],
                           progress=None if args.quiet else progress)
    if parent.finished:
        print(f"seeds finished: {parent.path} (report: {parent.path / 'report.html'})")
        return 0
    print(f"stopped; continue with: arena resume {parent.path}", file=sys.stderr)
    return EXIT_INTERRUPTED


def _run_seeds(args: argparse.Namespace, seeds: list[int], overrides: list[str]) -> int:
    from arena.config import load_config

    return _play_seeds(load_config(args.config, overrides), seeds, args.out, args)


def cmd_resume(args: argparse.Namespace) -> int:
    from arena.api import Run
    from arena.core.faults import Faults
    from arena.rundir.seeds import SeedsDir

    if SeedsDir.holds(args.run_dir):
        return _resume_seeds(args)
    run = Run.open(args.run_dir, args.device, faults=Faults.from_env())
    total = run.config.schedule.matchings
    if run.finished:
        run.play()  # releases the lock
        if run.lead:
            print(f"{run.path} is already complete ({total} matchings)")
        return 0
    return _train(run, args.quiet, f"resuming {run.path} at matching {run.tournament.completed} of {total}")


def _resume_seeds(args: argparse.Namespace) -> int:
    from arena.config import load_config
    from arena.rundir.seeds import SeedsDir

    parent = SeedsDir(args.run_dir)
    return _play_seeds(load_config(parent.path / SeedsDir.CONFIG), parent.seeds, parent.path, args)


def cmd_report(args: argparse.Namespace) -> int:
    import time

    from arena.api import report

    started = time.perf_counter()
    with _steps() as progress:
        path = report(args.run_dir, args.output, progress)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from arena.core.errors import ArenaError
    from arena.evaluation.compare import compare, format_cell, load_group

    if args.source is None:
        try:
            groups = [load_group(p, args.agent, "eval") for p in args.runs]
        except ArenaError:
            groups = [load_group(p, args.agent, "training") for p in args.runs]
    else:
        groups = [load_group(p, args.agent, args.source) for p in args.runs]
    table = compare(groups, args.any_protocol)
    shown = Table(title=f"{args.agent}: mean ± s.e. [worst run]", title_justify="left")
    shown.add_column("metric")
    for g in groups:
        shown.add_column(f"{g.label} (n={len(g.runs)})", justify="right")
    for g in groups[1:]:
        shown.add_column(f"p ({g.label} vs {groups[0].label})", justify="right")
    for m in table.metrics:
        shown.add_row(m, *[format_cell(c) for c in table.cells[m]],
                      *["" if p is None else f"{p:.3g}" for p in table.pvalues[m]])
    Console().print(shown)
    if table.protocol:
        p = table.protocol
        print(f"protocol: {p.get('samples')} samples, split {p.get('split')}, {p.get('evaluator')}; Welch's t-test")
    Path(args.output).write_text(table.markdown())
    print(f"wrote {args.output}")
    return 0


def cmd_league(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    from arena.core.errors import ConfigError
    from arena.evaluation.skill import skill_league
    from arena.tournament.judgements import judgements
    from arena.tournament.ratings import rating_systems

    for value, registry, flag in ((args.judge, judgements, "--judge"), (args.system, rating_systems, "--system")):
        if value not in registry:
            raise ConfigError(f"{flag}: unknown {registry.kind} {value!r} (known: {', '.join(registry.ids())})")
    with _steps() as progress:
        league = skill_league(args.runs, args.n, args.seed, args.judge, args.system, args.checkpoints, args.truth, progress)
    metrics = [k for k in ("modes", "high_quality", "reverse_kl", "tv", "quality") if any(k in r for r in league["rows"])]
    table = Table(title=f"{len(league['rows'])} generators against {len(league['judges'])} discriminators; "
                        f"{args.system}, judged by {args.judge}", title_justify="left")
    for column in ("#", "generator", "rating", "±", "score", *metrics):
        table.add_column(column, justify="left" if column == "generator" else "right")
    for i, row in enumerate(league["rows"], 1):
        unc = "" if row["uncertainty"] is None else f"{row['uncertainty']:.0f}"
        table.add_row(str(i), row["generator"], f"{row['rating']:.0f}", unc, f"{row['score']:.3f}",
                      *[f"{row[k]:.3g}" if k in row else "" for k in metrics])
    Console().print(table)
    for key, rho in league["correlations"].items():
        print(f"Spearman's rho of rating and {key}: {rho:+.3f}")
    if args.output:
        Path(args.output).write_text(json.dumps({k: v for k, v in league.items() if k != "payoff"} | {"payoff": league["payoff"]},
                                                indent=1))
        print(f"wrote {args.output}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from arena.api import load
    from arena.core.errors import ConfigError

    if args.n < 1:
        raise ConfigError(f"-n: expected a positive number of samples, got {args.n}")
    out = Path(args.output)
    if out.suffix not in (".npy", ".png"):
        raise ConfigError(f"-o: expected a .npy or .png file, got {out.name!r}")
    run = load(args.run_dir, args.device)
    agent = "mixture" if args.mixture else args.agent
    samples = run.sample(args.n, agent, args.seed, args.raw, not args.no_panel)
    name = repr(run.generator("mixture", args.raw, not args.no_panel)) if args.mixture else run.generator(args.agent, args.raw).name
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, samples.cpu().numpy())
    else:
        data = run.arena.data
        data.kind.picture(samples, out, data, title=f"{name}, {args.n} samples, seed {args.seed}", grid=args.n)
    print(f"wrote {args.n} samples of {name} (shape {tuple(samples.shape[1:])}) to {out}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from arena.api import load
    from arena.core.errors import ConfigError

    if args.n is not None and args.n < 2:
        raise ConfigError(f"-n: expected at least 2 samples, got {args.n}")
    run = load(args.run_dir, args.device)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    agent = "mixture" if args.mixture else args.agent
    with _steps() as progress:
        results = run.evaluate(agent, metrics, args.n, args.seed, progress, raw=args.raw, panel=not args.no_panel)
    t = run.tournament
    table = Table(title=f"{run.path}: matching {t.completed} ({t.rounds:,} rounds), seed {args.seed}")
    table.add_column("metric")
    for name in results:
        table.add_column(name, justify="right")
    keys = [k for k in dict.fromkeys(k for r in results.values() for k in r) if k != "protocol"]
    for k in keys:
        cells = [results[name].get(k) for name in results]
        table.add_row(k, *[f"{v:.4g}" if isinstance(v, float) else str(v if v is not None else "") for v in cells])
    Console().print(table)
    p = next(iter(results.values()))["protocol"]
    print(f"protocol: {p['samples']} samples, seed {p['seed']}, split {p['split']}, {p['evaluator']}")
    print(f"wrote {run.path / run.dir.EVAL}")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from rich.console import Console

    from arena.cli.display import leaderboard_table
    from arena.rundir import RunDir

    run_dir = RunDir(args.run_dir)
    board = run_dir.leaderboard()
    title = f"{run_dir}: matching {board['matching']} ({board['rounds']:,} rounds), ratings: {board['system']}"
    shown = board.get("mixture") if len(board["rows"]) > 2 else None  # a 1 x 1 run's mixture is its generator
    Console().print(leaderboard_table(board["rows"], title, shown))
    return 0


def cmd_ratings(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from arena.rundir import RunDir
    from arena.tournament.ratings import compute_ratings, rating_systems

    run_dir = RunDir(args.run_dir)
    system = args.system or run_dir.config().ratings.system
    results = run_dir.results()
    ratings = compute_ratings(system, results)
    table = Table(title=f"{run_dir}: {system} ({rating_systems.description(system)}), {len(results)} evaluations",
                  title_justify="left")
    for column in ("agent", "rating", "±", "games"):
        table.add_column(column, justify="left" if column == "agent" else "right")
    for name, r in sorted(ratings.items(), key=lambda item: -item[1].rating):
        table.add_row(name, f"{r.rating:.1f}", "" if r.uncertainty is None else f"{r.uncertainty:.1f}", str(r.games))
    Console().print(table)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from arena.config.safe_yaml import read_config_text

    read_config_text(args.config)  # a hostile file is refused here, before anything heavy is imported
    from arena.config import load_config
    from arena.engine.arena import build_arena

    config = load_config(args.config, args.overrides)
    arena = build_arena(config, device=args.device)  # the config's device: one this machine lacks is refused, as by run
    params = sum(a.num_parameters() for a in arena.agents.values())
    print(
        f"{args.config}: ok: {arena.data.describe()}; game {arena.game.id}; "
        f"{_count(arena.generators, 'generator')}, {_count(arena.discriminators, 'discriminator')}, {params:,} parameters"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from arena.plugins import registries

    console = Console()
    for title, registry in registries().items():
        table = Table(title=title, title_justify="left", show_header=False, box=None)
        for id in registry.ids():
            table.add_row(f"[bold]{id}[/bold]", registry.description(id))
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
    "report": cmd_report,
    "compare": cmd_compare,
    "league": cmd_league,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``arena`` and ``python -m arena``; returns the exit code."""
    from arena.core.errors import ArenaError

    args = _parser().parse_args(argv)
    shown = warnings.formatwarning
    warnings.formatwarning = lambda message, category, *rest, **kw: f"arena {args.command}: warning: {message}\n"
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
    finally:
        warnings.formatwarning = shown


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
