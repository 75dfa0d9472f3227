"""Writing the report: one self-contained HTML file per run directory (or per parent directory of
several seeds). The page is rendered by jinja2 from :file:`template.html.j2`; its charts are PNG
data URIs (:mod:`arena.report.charts`); its few lines of script sort tables and mark the
section in view. No server, no network, no login: it opens from disk and can be mailed.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

from arena.core.errors import WRONG_SHAPE
from arena.core.registry import build
from arena.report import charts
from arena.report.collect import RunRecord, collect
from arena.rundir import RunDir
from arena.rundir.checkpoint import atomic_write
from arena.rundir.metrics_log import is_number

__all__ = ["build_report", "render", "version"]

Progress = Callable[[str, int, int], None]


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("gan-arena")
    except PackageNotFoundError:  # pragma: no cover - a source tree never installed
        return "unknown"


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render(context: dict[str, Any]) -> str:
    """The page for ``context`` (see :func:`build_report` for its keys)."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(files("arena.report").joinpath("template.html.j2").read_text())
    return template.render(version=version(), written=time.strftime("%Y-%m-%d %H:%M:%S"), **context)


def _leaderboard(board: dict[str, Any] | None) -> dict[str, Any] | None:
    if not board or not board.get("rows"):
        return None
    columns = list(dict.fromkeys(k for row in board["rows"] for k in row))
    rows = [{"status": row.get("status"), "cells": {c: _fmt(row.get(c)) for c in columns}} for row in board["rows"]]
    return {"matching": board["matching"], "columns": columns, "rows": rows}


def _event_text(e: dict[str, Any]) -> str:
    if e["kind"] == "warning":
        return e["message"]
    if e["kind"] == "divergence":
        return f"{e['agent']}: {e['reason']} ({e['action']}, lr {e['lr']:.3g})"
    if e.get("parent"):
        return f"{e['replaced']} became a copy of {e['parent']} (lr {e['lr']:.3g})"
    return f"{e['replaced']}: not replaced ({e.get('reason', '')})"


def _output(run: RunRecord) -> dict[str, Any] | None:
    """What the tournament hands the user: the mixture (the generator of a 1 x 1 run), as
    ``arena eval`` measured it where it did, else as the last review of training did."""
    output = run.output
    name = "mixture" if output and len(run.generators) > 1 else (run.generators or [None])[0]
    measured = run.evaluations.get("mixture" if name == "mixture" else name)
    skip = {"matching", "rounds", "time", "seed", "samples"}

    def numbers(record: dict[str, Any]) -> dict[str, Any]:  # a record also carries names, weights and its protocol
        return {k: v for k, v in record.items()
                if k not in skip and is_number(v)}

    panelled = name == "mixture" and output is not None and output.panel is not None
    if measured:
        metrics = numbers(measured)
        panelled = panelled and bool(measured.get("panel"))
        protocol = f"measured by arena eval: {measured.get('samples')} samples, seed {measured.get('seed')}"
    else:
        last = [r for r in run.evals if r["agent"] == ("output" if panelled else name)] or \
            [r for r in run.evals if r["agent"] == name]
        panelled = panelled and bool(last) and last[-1]["agent"] == "output"
        judged = [r for r in run.evals if "d_gap" in r]
        if last:
            metrics = numbers(last[-1])
            protocol = f"the last review of training (matching {last[-1]['matching']}, {run.config['review']['samples']} samples)"
        elif judged:  # 1-D data: no sample metric during training; the equilibrium check of its discriminators
            final = [r for r in judged if r["matching"] == judged[-1]["matching"]]
            metrics = {f"{r['agent']}: {k}": v for r in final for k, v in r.items() if k in ("d_gap", "d_real")}
            protocol = (f"the discriminators' mean |D(x) - 1/2| and D(x) on held-out real data at matching "
                        f"{final[0]['matching']} (0 and 0.5 at the equilibrium); `arena eval` measures the equilibrium check")
        else:
            metrics, protocol = {}, "nothing measured yet (the first review records it)"
    what = (f"the mixture of {', '.join(f'{c} ({w:.2f})' for c, w in zip(output.components, output.weights))}"
            if name == "mixture" and output else f"generator {name}")
    if panelled and output and output.panel:
        what += f", filtered by the panel of {', '.join(output.panel.judges)}"
    labels = charts.METRIC_TITLES
    return {"what": what, "protocol": protocol, "metrics": [(labels.get(k, k), _fmt(v)) for k, v in metrics.items()],
            "members": _members(run)}


def _members(run: RunRecord) -> dict[str, Any] | None:
    """Each generator as ``arena eval`` measured it (a family's members too), with its weight in
    the mixture: where the output's parts come from. None before an ``arena eval`` of them."""
    skip = {"matching", "rounds", "time", "seed"}
    rows = [{"agent": name, **{k: v for k, v in record.items() if k not in skip and is_number(v)}}
            for name, record in run.evaluations.items() if name in run.generators and isinstance(record, dict)]
    if not rows:
        return None
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return {"columns": columns, "rows": [{c: _fmt(row.get(c)) for c in columns} for row in rows]}


def _data(run: RunRecord):
    """The run's data source (its kind draws the samples), built from the resolved config."""
    from arena.core.seeding import derive_seed
    from arena.data import sources

    return build(run.config["data"], sources, ("data",), seed=derive_seed(run.config["seed"], "data"))


def _best(run: RunRecord, k: int) -> list[str]:
    """The ``k`` best-rated generators (all of them where there are no more), best first."""
    rows = (run.leaderboard or {}).get("rows") or []
    ranked = [r["agent"] for r in rows if r["role"] == "generator"]
    return (ranked or run.generators)[:k]


_MALFORMED = (*WRONG_SHAPE, ZeroDivisionError)


def _guarded(section: str, draw: Callable[[], Any], fallback: Any) -> Any:
    """``draw()``, or ``fallback`` with a warning where the run's files hold values of the wrong
    shape (a run directory edited or damaged by hand): the report leaves that section out rather
    than failing."""
    try:
        return draw()
    except _MALFORMED as exc:
        warnings.warn(f"the report leaves out {section!r}: the run's files hold values of the wrong shape "
                      f"({type(exc).__name__}: {str(exc)[:120]})", RuntimeWarning, stacklevel=2)
        return fallback


def run_context(run: RunRecord, progress: Progress | None = None) -> dict[str, Any]:
    """Everything the template shows for one run."""
    report = progress or (lambda task, done, total: None)
    steps: list[tuple[str, str, str, Callable[[], str | None]]] = [
        ("ratings", "Ratings over time", "Each agent's rating after every review (recomputed from results.json), "
         "with a band of one uncertainty; dashed lines mark selections.", lambda: charts.ratings_chart(run)),
        ("payoff", "Payoff matrix", "Every discriminator's score against every generator on held-out data at the "
         "latest review (0.5: a draw).", lambda: charts.payoff_chart(run)),
        ("payoff-history", "Payoff matrix over time", "The same matrix at up to eight reviews.",
         lambda: charts.payoff_history_chart(run)),
        ("lineage", "Lineage", "Selection: an arrow from a parent to the agent that became its mutated copy.",
         lambda: charts.lineage_chart(run)),
        ("samples", "Samples over time", "The best-rated generators (at most eight) and the mixture on the same "
         "latent draws at every review shown; red crosses are the true modes.", None),
        ("training", "Training", "Losses and the discriminators' mean outputs on real and generated data, per agent "
         "(averaged over its matches of each logging period); dashed lines mark warnings (orange), divergence (red) "
         "and selections (grey).", lambda: charts.training_chart(run)),
        ("metrics", "Metrics over time", "The data's metrics of every generator and of the mixture (black) at every "
         "evaluation, with the same event marks.", lambda: charts.metrics_chart(run)),
    ]
    out = []
    for i, (id, title, note, draw) in enumerate(steps):
        report("drawing the report's charts", i, len(steps))
        if id == "samples":
            def draw():
                names = [*_best(run, 8), "mixture"] if run.fixed else []
                return charts.samples_chart(run, _data(run), names) if names else None
        image = _guarded(title, draw, None)
        if image:
            out.append({"id": id, "title": title, "note": note, "uri": image})
    report("drawing the report's charts", len(steps), len(steps))
    sections = [("output", "Output"), ("leaderboard", "Leaderboard"), *[(c["id"], c["title"]) for c in out],
                ("events", "Events"), ("config", "Config")]
    name = run.config["name"]
    rounds = max([r["rounds"] for r in run.train] or [0])
    return {
        "title": f"{name}: {Path(run.path).name}",
        "subtitle": f"{run.config['data']['source']}, game {run.config['game']['id']}, seed {run.config['seed']}, "
                    f"device {run.info.get('device', '?')}",
        "path": run.path,
        "finished": run.finished,
        "completed": run.completed,
        "matchings": run.matchings,
        "rounds": f"{rounds:,}",
        "sections": sections,
        "output": _guarded("Output", lambda: _output(run), None),
        "leaderboard": _guarded("Leaderboard", lambda: _leaderboard(run.leaderboard), None),
        "system": run.config["ratings"]["system"],
        "charts": out,
        "seeds": None,
        "events": _guarded("Events", lambda: [{"kind": e["kind"], "matching": e["matching"], "text": _event_text(e)}
                                              for e in run.events], []),
        "config_text": run.config_text,
        "info": json.dumps(run.info, indent=1) if run.info else "",
    }


def build_report(path: str | Path, out: str | Path | None = None, progress: Progress | None = None) -> Path:
    """Write the report of a run directory (or of a parent directory of several seeds) to ``out``
    (default: ``report.html`` inside it); return its path."""
    from arena.rundir.seeds import SeedsDir

    path = Path(path)
    if SeedsDir.holds(path):
        from arena.report.seeds import seeds_context

        context = seeds_context(SeedsDir(path), progress)
    else:
        context = run_context(collect(RunDir(path)), progress)
    target = Path(out) if out is not None else path / RunDir.REPORT
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, render(context).encode("utf-8", errors="replace"))  # a path that is not UTF-8 shows as U+FFFD
    return target
