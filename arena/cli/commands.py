"""The ``arena`` command line: the commands that train (run, resume, and several seeds) and the
entry point; the commands that read live in :mod:`arena.cli.reading`, the arguments in
:mod:`arena.cli.parser`.

A thin layer over the Python API (:mod:`arena.api`): each command parses its arguments, calls
the API and prints. A user's mistake (a bad config, a missing file) is one line on stderr and
exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from arena.cli.progress import steps
from arena.cli.terminal import EXIT_USER_ERROR, NamedStdout, missing_cwd, sane_columns
from arena.cli.terminal import os_error as _os_error
from arena.core.errors import WRONG_SHAPE
from arena.output.record import OutputRecord

__all__ = ["main", "EXIT_USER_ERROR", "EXIT_INTERRUPTED", "EXIT_TERMINATED"]

EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
"""128 + SIGTERM: the exit code of a run stopped by SIGTERM (after its checkpoint)."""


def _stopped_code(interrupts) -> int:
    import signal

    return EXIT_TERMINATED if interrupts.signal == signal.SIGTERM else EXIT_INTERRUPTED


def _header(run, first: str | None = None) -> str:
    """What a run shows before it plays: ``first`` (default: its directory and what plays) and the
    compute path ``auto`` chose."""
    first = first or f"run directory: {run.path}\n{run.describe()}"
    return f"{first}\ncompute: {run.compute}"


def _train(run, quiet: bool, header: str | None) -> int:
    """Play ``run`` with the display and Ctrl-C handling (rank 0 shows them) and say how it ended."""
    from arena.cli.display import Display, Interrupts

    if header and run.lead and not quiet:
        print(header, file=sys.stderr)
    interrupts = Interrupts()
    with steps() as progress:
        run.play([Display(run.config.name, quiet or not run.lead), interrupts], None if quiet else progress)
    if not run.lead:
        return 0 if run.finished else _stopped_code(interrupts)
    if run.finished:
        print(f"run finished: {run.path}")
        line = output_line(run.output, run.config.review.samples)
        if line:
            print(line)
        return 0
    print(f"stopped after matching {run.completed}; continue with: arena resume {run.path}", file=sys.stderr)
    return _stopped_code(interrupts)


def output_line(output: OutputRecord | None, samples: int) -> str | None:
    """One line on the output's final figures (through the panel where it is on)."""
    if not output:
        return None
    panel = output.panel
    shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in output.figures.items()
                      if k != "quality")
    if panel is not None and panel.failed is not None:
        return f"output: {panel.failed}, at the last evaluation; the mixture unfiltered ({samples:,} samples): {shown}"
    what = "the mixture through the discriminator panel" if panel else (
        "the mixture" if len(output.components) > 1 else f"generator {output.components[0]}")
    extra = f"; the panel accepted {panel.acceptance:.0%} of candidates" if panel else ""
    return f"output ({what}, {samples:,} samples at the last evaluation{extra}): {shown}"


def _seeds(text: str) -> list[int]:
    from arena.core.errors import ConfigError

    try:
        seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--seeds: expected comma-separated integers, got {text!r}") from None
    if not seeds or any(not 0 <= s < 2**63 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds: expected distinct integers from 0 to 2**63 - 1, got {text!r}")
    return seeds


def cmd_run(args: argparse.Namespace) -> int:
    from arena.config.safe_yaml import read_config_text

    read = read_config_text(args.config)  # a hostile file is refused here, before anything heavy is imported
    from arena.api import Run
    from arena.config import load_config

    overrides = list(args.overrides) + (["data.download=true"] if args.download else [])
    config = load_config(args.config, overrides, read=read)  # the file is read once
    if args.seeds:
        return _play_seeds(config, _seeds(args.seeds), args.out, args)
    if not args.profile:
        run = Run.create(config, args.out, args.device)
        return _train(run, args.quiet, _header(run))
    from arena.tournament.timing import Profile

    with Profile() as profile:
        with profile.part("build"):
            run = Run.create(config, args.out, args.device)
        profile.device = run.arena.device
        run.tournament.timer = profile
        code = _train(run, args.quiet, _header(run))
    if run.lead:
        print(f"profile of {run.path} (seconds, each part counted once):\n{profile.table()}", file=sys.stderr)
        run.dir.write_json("profile.json", {"parts": profile.parts(), "profiled": profile.total,
                                            "device": str(run.arena.device)})
    return code


def _play_seeds(config, seeds: list[int], out, args: argparse.Namespace) -> int:
    from arena.api import run_seeds
    from arena.cli.display import Display, Interrupts

    interrupts = Interrupts()
    with steps() as progress:
        parent = run_seeds(config, seeds, out, args.device,
                           lambda seed: [Display(f"{config.name} seed {seed}", args.quiet), interrupts],
                           progress=None if args.quiet else progress)
    if parent.finished:
        report = f" (report: {parent.path / 'report.html'})" if config.log.report else ""
        print(f"seeds finished: {parent.path}{report}")
        return 0
    print(f"stopped; continue with: arena resume {parent.path}", file=sys.stderr)
    return _stopped_code(interrupts)


def cmd_resume(args: argparse.Namespace) -> int:
    from arena.api import Run
    from arena.rundir.seeds import SeedsDir

    if SeedsDir.holds(args.run_dir):
        return _resume_seeds(args)
    run = Run.open(args.run_dir, args.device)
    total = run.config.schedule.matchings
    if run.finished:
        run.play()  # releases the lock
        if run.lead:
            print(f"{run.path} is already complete ({total} matchings)")
        return 0
    return _train(run, args.quiet, _header(run, f"resuming {run.path} at matching {run.completed} of {total}"))


def _resume_seeds(args: argparse.Namespace) -> int:
    from arena.config import load_config
    from arena.rundir.seeds import SeedsDir

    parent = SeedsDir(args.run_dir)
    return _play_seeds(load_config(parent.path / SeedsDir.CONFIG), parent.seeds, parent.path, args)


from arena.cli.parser import build_parser  # noqa: E402
from arena.cli.reading import (  # noqa: E402
    cmd_check,
    cmd_compare,
    cmd_eval,
    cmd_leaderboard,
    cmd_league,
    cmd_list,
    cmd_ratings,
    cmd_report,
    cmd_sample,
)

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


READERS = frozenset({"sample", "eval", "leaderboard", "ratings", "report", "compare", "league"})
"""The commands that only read runs: a malformed value that got past the checks where each file
is read ends them with one line, not a traceback (``ARENA_DEBUG=1`` shows it)."""

_MALFORMED = (*WRONG_SHAPE, UnicodeError, RecursionError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``arena`` and ``python -m arena``; returns the exit code."""

    for stream in (sys.stdout, sys.stderr):  # a path that is not UTF-8 is printed escaped, not a traceback
        if hasattr(stream, "reconfigure") and getattr(stream, "errors", None) == "strict":
            stream.reconfigure(errors="backslashreplace")
    sane_columns()
    if (gone := missing_cwd()) is not None:
        print(f"arena: error: {gone}", file=sys.stderr)
        return EXIT_USER_ERROR
    stdout = sys.stdout
    sys.stdout = NamedStdout(stdout)  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        if isinstance(sys.stdout, NamedStdout):
            sys.stdout = stdout


def _main(argv: Sequence[str] | None) -> int:
    from arena.core import faults
    from arena.core.clash import check_own_packages
    from arena.core.errors import ArenaError

    try:
        args = build_parser().parse_args(argv)
    except OSError as exc:  # --help or a usage error written where nothing can be written
        return _os_error("", exc)
    shown = warnings.formatwarning
    warnings.formatwarning = lambda message, category, *rest, **kw: f"arena {args.command}: warning: {message}\n"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("default", category=RuntimeWarning)
            faults.arm_from_env()  # crash-safety tests only: ARENA_FAULT=POINT[:N[:ERRNO]]
            check_own_packages()  # `agents` or `games` overwritten by another distribution: one line
            code = COMMANDS[args.command](args)
            sys.stdout.flush()  # here, not at exit: a full or closed standard output ends in one line
            return code
    except ArenaError as exc:
        print(f"arena {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except _MALFORMED as exc:
        if args.command not in READERS or os.environ.get("ARENA_DEBUG"):
            raise
        # a value of the wrong type deep inside a run's file, past the checks where it is read
        text = (str(exc).strip().splitlines() or [""])[0][:200]
        print(f"arena {args.command}: error: a file of the run holds a value of the wrong shape "
              f"({type(exc).__name__}: {text}); was it edited or damaged? (ARENA_DEBUG=1 shows where)",
              file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        return _os_error(args.command, exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        warnings.formatwarning = shown


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
