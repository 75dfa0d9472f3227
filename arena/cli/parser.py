"""The ``arena`` command line's arguments: one sub-command a verb."""

from __future__ import annotations

import argparse

__all__ = ["build_parser"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gan-arena")
    except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
        return "unknown"


def _device(text: str) -> str:
    """``--device``: checked as the config's ``device`` is (a malformed one is a usage error)."""
    from arena.config.sections import check_device
    from arena.core.errors import ConfigError

    try:
        return check_device(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _seed(text: str) -> int:
    """``--seed``: an integer from 0 to 2**63 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to 2**63 - 1, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``arena`` command."""
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
    run.add_argument("--device", type=_device, help="override the config's device (auto, cpu, cuda, cuda:N, mps)")
    run.add_argument("--download", action="store_true", help="allow the data source to download missing files")
    run.add_argument("--quiet", action="store_true", help="no progress display")
    run.add_argument("--seeds", help="run once per seed into one parent directory, e.g. --seeds 0,1,2")
    run.add_argument("--profile", action="store_true",
                     help="time the run part by part (start-up, build, matches, each review step, pictures, report, "
                          "checkpoints); the table goes to stderr and RUN_DIR/profile.json")

    resume = sub.add_parser("resume", help="continue a run (or a directory of seeds) from its last good checkpoint")
    resume.add_argument("run_dir")
    resume.add_argument("--device", type=_device, help="override the run's device")
    resume.add_argument("--quiet", action="store_true", help="no progress display")

    sample = sub.add_parser("sample", help="draw samples from a trained generator")
    sample.add_argument("run_dir")
    who_s = sample.add_mutually_exclusive_group()
    who_s.add_argument("--agent", help="generator name (default: the first generator)")
    who_s.add_argument("--mixture", action="store_true", help="the tournament's mixture of its best generators")
    sample.add_argument("-n", type=int, default=2500, help="number of samples (default 2500)")
    sample.add_argument("--seed", type=_seed, default=0, help="seed of the latent draws (default 0)")
    sample.add_argument("-o", "--output", required=True, help="output file: .npy (N x data shape) or .png")
    _generator_options(sample, "sample")

    ev = sub.add_parser("eval", help="evaluate a trained generator; prints a table and writes eval.json")
    ev.add_argument("run_dir")
    who = ev.add_mutually_exclusive_group()
    who.add_argument("--agent", help="generator name (default: every generator)")
    who.add_argument("--mixture", action="store_true", help="the mixture of the best generators (tournaments)")
    ev.add_argument("--metrics", help="comma-separated metrics (default: all that apply to the data)")
    ev.add_argument("--seed", type=_seed, default=0, help="seed of the latent draws (default 0)")
    ev.add_argument("-n", type=int, help="samples (default 2500; 10000 with parzen, fid_inception or kid_inception; "
                    "25600 with stacked_modes or stacked_digits)")
    ev.add_argument("--download", action="store_true",
                    help="allow fetching what a metric needs and lacks (the Inception weights of fid_inception)")
    _generator_options(ev, "evaluate")

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
    comp.add_argument("--force", action="store_true", help="compare runs trained on different data (with a warning)")
    comp.add_argument("-o", "--output", default="compare.md", help="the Markdown table (default: compare.md)")

    league = sub.add_parser("league", help="rate the generators of several runs against one common panel of discriminators")
    league.add_argument("runs", nargs="+", metavar="RUN_DIR")
    league.add_argument("--judgement", "--judge", dest="judgement", default="game", help="game (balanced accuracy by default), auc, likelihood, manifold (precision and recall in "
                        "each discriminator's features) or density-coverage (density and coverage in those features)")
    league.add_argument("--system", default="glicko2", help="elo, glicko2 or bradley-terry (default glicko2)")
    league.add_argument("--checkpoints", choices=["last", "all"], default="last",
                        help="each run's newest checkpoint, or every checkpoint kept (snapshots of its training)")
    league.add_argument("-n", type=int, default=2500, help="samples per generator (default 2500)")
    league.add_argument("--seed", type=_seed, default=0, help="seed of the latent draws (default 0)")
    league.add_argument("--truth", action="store_true",
                        help="also measure every generator with the data's metrics, and Spearman's rho of rating and each")
    league.add_argument("--truth-samples", type=int, default=10000,
                        help="samples per generator for --truth, drawn from a seed of their own (default 10000)")
    league.add_argument("-o", "--output", help="write the league as JSON")

    check = sub.add_parser("check", help="validate a config and build everything it names, without training")
    check.add_argument("config")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    check.add_argument("--device", type=_device, help="override the config's device")

    lst = sub.add_parser("list", help="list the shipped configs and every registry: games, networks, data sources, "
                                      "optimizers, priors, schedules, rating systems, mixture weightings, metrics")
    lst.add_argument("section", nargs="?", default=None, metavar="SECTION",
                     help="only this section: configs, or a registry (games, networks, ...)")
    for parser in (p, *sub.choices.values()):  # `arena run --seed 7` is an error, not `--seeds 7`
        parser.allow_abbrev = False
    return p


# --------------------------------------------------------------------------- commands


def _generator_options(p: argparse.ArgumentParser, verb: str) -> None:
    """The options of commands that read a trained generator: its device, weights and panel."""
    p.add_argument("--device", default="cpu", type=_device, help=f"device to {verb} on (default cpu)")
    p.add_argument("--raw", action="store_true", help="the trained weights, not their moving average (where EMA is on)")
    p.add_argument("--no-panel", action="store_true", help="the mixture unfiltered by the discriminator panel")
