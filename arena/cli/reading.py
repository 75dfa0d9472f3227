"""The commands that read runs: sample, eval, leaderboard, ratings, report, compare, league, and
those that read configs and registries: check, list. Each is a thin layer over the Python API."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from arena.cli.progress import steps
from arena.cli.terminal import console as terminal_console

__all__ = ["cmd_sample", "cmd_eval", "cmd_leaderboard", "cmd_ratings", "cmd_report", "cmd_compare", "cmd_league",
           "cmd_check", "cmd_list"]


def output_path(text: str, flag: str = "-o") -> Path:
    """The file a user named for a command's output: refused where it is a directory or its
    folder cannot be made."""
    from arena.core.errors import ConfigError

    path = Path(text)
    if path.is_dir():
        raise ConfigError(f"{flag}: {path} is a directory; name a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{flag}: cannot make the folder of {path} ({exc.strerror or exc})") from None
    return path


def write_output(text: str, data: bytes | str, flag: str = "-o") -> Path:
    """Write ``data`` (text as UTF-8; a path in it that is not UTF-8 shows as U+FFFD) to the
    file a user named (:func:`output_path`), atomically."""
    from arena.core.files import atomic_write

    path = output_path(text, flag)
    if isinstance(data, str):
        data = data.encode("utf-8", errors="replace")
    # whole or not at all: a full disk leaves no partial file looking like a result (the error
    # ends in one line as every operating-system error does); a link the user named is written through
    atomic_write(path.resolve() if path.is_symlink() else path, data)
    return path


def cmd_report(args: argparse.Namespace) -> int:
    import time

    from arena.api import report

    started = time.perf_counter()
    if args.output:
        output_path(args.output)
    with steps() as progress:
        path = report(args.run_dir, args.output, progress)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.table import Table

    from arena.core.errors import ArenaError
    from arena.report.compare import compare, format_cell, load_group

    if args.source is None:
        try:
            groups = [load_group(p, args.agent, "eval") for p in args.runs]
        except ArenaError:
            groups = [load_group(p, args.agent, "training") for p in args.runs]
    else:
        groups = [load_group(p, args.agent, args.source) for p in args.runs]
    table = compare(groups, args.any_protocol, args.force)
    shown = Table(title=escape(f"{args.agent}: mean ± s.e. [worst run]"), title_justify="left")
    shown.add_column("metric")
    for g in groups:
        shown.add_column(escape(f"{g.label} (n={len(g.runs)})"), justify="right")
    for g in groups[1:]:
        shown.add_column(escape(f"p ({g.label} vs {groups[0].label})"), justify="right")
    for m in table.metrics:
        shown.add_row(escape(m), *[escape(format_cell(c)) for c in table.cells[m]],
                      *["" if p is None else f"{p:.3g}" for p in table.pvalues[m]])
    terminal_console().print(shown)
    if table.protocol:
        p = table.protocol
        print(f"protocol: {p.get('samples')} samples, split {p.get('split')}, {p.get('evaluator')}; Welch's t-test")
    write_output(args.output, table.markdown())
    print(f"wrote {args.output}")
    return 0


def cmd_league(args: argparse.Namespace) -> int:
    import math

    from rich.table import Table

    from arena.core.errors import ConfigError
    from arena.core.files import dump_json
    from arena.skill import skill_league
    from arena.tournament.judgements import judgements
    from arena.tournament.ratings import rating_systems

    if args.n < 2:
        raise ConfigError(f"-n: expected at least 2 samples, got {args.n}")
    if args.truth_samples < 1:
        raise ConfigError(f"--truth-samples: expected a positive number of samples, got {args.truth_samples}")
    for value, registry, flag in ((args.judgement, judgements, "--judgement"), (args.system, rating_systems, "--system")):
        if value not in registry:
            raise ConfigError(f"{flag}: unknown {registry.kind} {value!r} (known: {', '.join(registry.ids())})")
    with steps() as progress:
        league = skill_league(args.runs, args.n, args.seed, args.judgement, args.system, args.checkpoints, args.truth, progress,
                              args.truth_samples)
    metrics = [k for k in ("modes", "high_quality", "reverse_kl", "mode_tv", "tv", "quality") if any(k in r for r in league["rows"])]
    table = Table(title=f"{len(league['rows'])} generators against {len(league['judges'])} discriminators; "
                        f"{args.system}, judged by {args.judgement}", title_justify="left")
    for column in ("#", "generator", "rating", "±", "score", *metrics):
        table.add_column(column, justify="left" if column == "generator" else "right")
    for i, row in enumerate(league["rows"], 1):
        unc = "" if row["uncertainty"] is None else f"{row['uncertainty']:.0f}"
        table.add_row(str(i), escape(row["generator"]), f"{row['rating']:.0f}", unc, f"{row['score']:.3f}",
                      *[f"{row[k]:.3g}" if k in row else "" for k in metrics])
    terminal_console().print(table)
    for key, rho in league["correlations"].items():
        text = f"{rho:+.3f}" if math.isfinite(rho) else "undefined (fewer than 3 generators, or all measure alike)"
        print(f"Spearman's rho of rating and {key}: {text}")
    if args.output:
        write_output(args.output, dump_json({k: v for k, v in league.items() if k != "payoff"}
                                            | {"payoff": league["payoff"]}, indent=1))
        print(f"wrote {args.output}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import io

    import numpy as np

    from arena.api import load
    from arena.core.errors import ConfigError

    if args.n < 1:
        raise ConfigError(f"-n: expected a positive number of samples, got {args.n}")
    out = Path(args.output)
    if out.suffix not in (".npy", ".png"):
        raise ConfigError(f"-o: expected a .npy or .png file, got {out.name!r}")
    output_path(args.output)
    run = load(args.run_dir, args.device)
    agent = "mixture" if args.mixture else args.agent
    samples = run.sample(args.n, agent, args.seed, args.raw, not args.no_panel)
    name = repr(run.generator("mixture", args.raw, not args.no_panel)) if args.mixture else run.generator(args.agent, args.raw).name
    if out.suffix == ".npy":
        buf = io.BytesIO()
        np.save(buf, samples.cpu().numpy())
        write_output(args.output, buf.getvalue())
    else:
        run.picture(samples, out, title=f"{name}, {args.n} samples, seed {args.seed}", grid=args.n)
    print(f"wrote {args.n} samples of {name} (shape {tuple(samples.shape[1:])}) to {out}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rich.table import Table

    from arena.api import load
    from arena.core.errors import ConfigError
    from arena.evaluation.protocol import describe

    if args.n is not None and args.n < 2:
        raise ConfigError(f"-n: expected at least 2 samples, got {args.n}")
    run = load(args.run_dir, args.device)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    agent = "mixture" if args.mixture else args.agent
    with steps() as progress:
        results = run.evaluate(agent, metrics, args.n, args.seed, progress, raw=args.raw, panel=not args.no_panel,
                               download=args.download)
    table = Table(title=escape(f"{run.path}: matching {run.completed} ({run.rounds:,} rounds), seed {args.seed}"))
    table.add_column("metric")
    for name in results:
        table.add_column(escape(name), justify="right")
    keys = [k for k in dict.fromkeys(k for r in results.values() for k in r) if k != "protocol"]
    for k in keys:
        cells = [results[name].get(k) for name in results]
        table.add_row(escape(k), *[f"{v:.4g}" if isinstance(v, float) else escape(str(v if v is not None else ""))
                                   for v in cells])
    terminal_console().print(table)
    p = next(iter(results.values()))["protocol"]
    print(f"protocol: {describe(p)}")
    print(f"wrote {run.path / run.dir.EVAL}")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:

    from arena.cli.display import leaderboard_table
    from arena.rundir import RunDir

    run_dir = RunDir(args.run_dir)
    board = run_dir.leaderboard()
    title = f"{run_dir}: matching {board['matching']} ({board['rounds']:,} rounds), ratings: {board['system']}"
    shown = run_dir.output() if len(board["rows"]) > 2 else None  # a 1 x 1 run's mixture is its generator
    terminal_console().print(leaderboard_table(board["rows"], title, shown))
    return 0


def cmd_ratings(args: argparse.Namespace) -> int:
    from rich.table import Table

    from arena.rundir import RunDir
    from arena.tournament.ratings import compute_ratings, rating_systems

    run_dir = RunDir(args.run_dir)
    system = args.system or run_dir.config().ratings.system
    results = run_dir.results()
    ratings = compute_ratings(system, results)
    table = Table(title=escape(f"{run_dir}: {system} ({rating_systems.description(system)}), {len(results)} reviews"),
                  title_justify="left")
    for column in ("agent", "rating", "±", "games"):
        table.add_column(column, justify="left" if column == "agent" else "right")
    for name, r in sorted(ratings.items(), key=lambda item: -item[1].rating):
        table.add_row(escape(name), f"{r.rating:.1f}", "" if r.uncertainty is None else f"{r.uncertainty:.1f}", str(r.games))
    terminal_console().print(table)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from arena.config.safe_yaml import read_config_text

    read = read_config_text(args.config)  # a hostile file is refused here, before anything heavy is imported
    from arena.api import check
    from arena.config import load_config

    config = load_config(args.config, args.overrides, read=read)
    print(f"{args.config}: ok: {check(config, args.device)}")  # the config's device: one this machine lacks is refused
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from arena.config.shipped import description, shipped
    from arena.core.errors import ConfigError
    from arena.plugins import registries

    sections = {"configs": None, **{title: registry for title, registry in registries().items()}}
    wanted = args.section
    if wanted is not None:
        matches = [t for t in sections if t == wanted.lower() or t.replace(" ", "-") == wanted.lower()
                   or t.replace(" ", "_") == wanted.lower()]
        if not matches:
            raise ConfigError(f"unknown section {wanted!r} (sections: {', '.join(t.replace(' ', '-') for t in sections)})")
        sections = {matches[0]: sections[matches[0]]}
    console = terminal_console()
    for title, registry in sections.items():
        table = Table(title=title, title_justify="left", show_header=False, box=None)
        if registry is None:  # the shipped configs: `arena run NAME` finds them
            for name, path in shipped().items():
                table.add_row(f"[bold]{escape(name)}[/bold]", escape(description(path)))
        else:
            for id in registry.ids():
                table.add_row(f"[bold]{escape(id)}[/bold]", escape(registry.description(id)))
        console.print(table)
    if wanted is None or "configs" in sections:
        console.print("configs run by name: arena run tournament_ring8 (a path that exists wins)")
    if wanted is None:
        console.print("networks may also be 'module:Class' naming a torch.nn.Module subclass")
    return 0
