"""Comparing runs over seeds: per metric, mean, standard error and worst seed of each group, and
Welch's t-test between groups (``arena compare``).

A group is a parent directory of seeds (``arena run --seeds``) or a single run directory. Each
run contributes its output's metrics (the mixture's; a 1 x 1 run's generator's): those that
``arena eval`` measured where every run of the comparison has them, else those of the last
evaluation during training. Every number carries its protocol (:mod:`arena.evaluation.protocol`);
numbers measured under different protocols are not compared unless asked to.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from typing import Any

from arena.core.errors import ArenaError
from arena.evaluation.protocol import describe as _describe
from arena.evaluation.protocol import same_protocol

__all__ = ["DIRECTION", "Group", "Comparison", "load_group", "compare", "summarize", "welch"]

DIRECTION = {
    "modes": "higher", "high_quality": "higher", "reverse_kl": "lower", "quality": "higher", "tv": "lower",
    "symbols": "higher", "d_gap": "lower", "d_opt_gap": "lower", "parzen_ll": "higher", "fd": "lower",
    "precision": "higher", "recall": "higher", "classes_covered": "higher", "class_kl": "lower", "spread": "one",
    "mode_tv": "lower", "fid_inception": "lower", "kid_inception": "lower",
}
"""Which way each metric is better (``one``: nearest 1); the worst seed is the one furthest the other way."""

_NOT_METRICS = {"kind", "matching", "rounds", "agent", "protocol", "time", "seed", "samples", "components", "weights",
                "parzen_se", "parzen_sigma", "classifier_accuracy", "kid_inception_std"}


@dataclasses.dataclass
class Group:
    """The runs of one compared directory: a label and, per run, its metrics and their protocol."""

    label: str
    runs: dict[str, dict[str, Any]]
    """Run label (``seed 0``) -> ``{"metrics": {...}, "protocol": {...}, "source": "eval"|"training"}``."""


def _run_output(path: Path, agent: str, source: str) -> dict[str, Any] | None:
    from arena.rundir import RunDir
    from arena.rundir.seeds import output_metrics

    run_dir = RunDir(path)
    name = agent
    if agent == "best":  # the top-rated generator of the latest leaderboard
        rows = run_dir.leaderboard()["rows"]
        agent = name = next(r["agent"] for r in rows if r["role"] == "generator" and r["rank"] == 1)
    if source == "eval":
        evaluations = run_dir.evaluations()
        if name == "output":
            name = "mixture" if "mixture" in evaluations else next(iter(evaluations), "")
        record = evaluations.get(name)
        if record is None:
            return None
    else:
        if agent == "output":
            record = output_metrics(run_dir)
        else:
            rows = [r for r in run_dir.metrics.read() if r["kind"] == "eval" and r["agent"] == agent]
            record = rows[-1] if rows else None
        if record is None:
            return None
    metrics = {k: v for k, v in record.items() if k not in _NOT_METRICS and isinstance(v, (int, float))}
    return {"metrics": metrics, "protocol": record.get("protocol"), "source": source, "data": run_dir.config().data}


def load_group(path: str | Path, agent: str = "output", source: str = "eval") -> Group:
    """The runs under ``path`` (a parent of seeds or one run directory) and the metrics of ``agent``
    (``output``: the mixture, or a 1 x 1 run's generator; ``best``: the top-rated generator; or a
    name) from ``source`` (``eval``: eval.json; ``training``: the last review during training)."""
    from arena.rundir.seeds import SeedsDir

    path = Path(path)
    if SeedsDir.holds(path):
        seeds = SeedsDir(path)
        members = [(f"seed {s}", d.path) for s, d in seeds.runs()]
    else:
        members = [(path.name, path)]
    runs = {}
    for label, run_path in members:
        out = _run_output(run_path, agent, source)
        if out is None:
            raise ArenaError(f"{run_path} has no {'arena eval result' if source == 'eval' else 'evaluation'} for "
                             f"{agent if agent != 'output' else 'its output'} yet")
        runs[label] = out
    return Group(path.name, runs)


def summarize(values: list[float], direction: str | None) -> dict[str, float | None]:
    """Mean, standard error (None for one value) and the worst value."""
    n = len(values)
    mean = sum(values) / n
    se = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n) if n > 1 else None
    if direction == "one":
        worst: float | None = max(values, key=lambda v: abs(v - 1))
    else:
        worst = (min(values) if direction == "higher" else max(values)) if direction else None
    return {"mean": mean, "se": se, "worst": worst, "n": n}


def welch(a: list[float], b: list[float]) -> float | None:
    """The two-sided p-value of Welch's t-test (unequal variances) between two groups; None where
    either has fewer than two values or both are constant."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy import stats

    if len(set(a)) == 1 and len(set(b)) == 1:
        return 1.0 if a[0] == b[0] else 0.0
    result = stats.ttest_ind(a, b, equal_var=False)
    p = float(result.pvalue)
    return p if math.isfinite(p) else None


@dataclasses.dataclass
class Comparison:
    """The table of ``arena compare``: per metric, each group's summary and the p-value of each
    group against the first."""

    groups: list[Group]
    metrics: list[str]
    cells: dict[str, list[dict[str, Any]]]
    pvalues: dict[str, list[float | None]]
    protocol: dict[str, Any] | None

    def markdown(self) -> str:
        """The table as Markdown (for a paper or an issue)."""
        head = ["metric", *[f"{g.label} (n={len(g.runs)})" for g in self.groups],
                *[f"p ({g.label} vs {self.groups[0].label})" for g in self.groups[1:]]]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for m in self.metrics:
            cells = [format_cell(c) for c in self.cells[m]]
            ps = ["" if p is None else f"{p:.3g}" for p in self.pvalues[m]]
            lines.append("| " + " | ".join([m, *cells, *ps]) + " |")
        if self.protocol:
            p = self.protocol
            lines.append("")
            lines.append(f"Protocol: {p.get('samples')} samples per run, split {p.get('split')}, {p.get('evaluator')}; "
                         f"mean ± standard error over runs, worst run in brackets; Welch's t-test.")
        return "\n".join(lines) + "\n"


def format_cell(cell: dict[str, Any]) -> str:
    def num(x: float) -> str:
        return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"

    text = num(cell["mean"]) + (f" ± {num(cell['se'])}" if cell["se"] is not None else "")
    if cell["worst"] is not None and cell["n"] > 1:
        text += f" [{num(cell['worst'])}]"
    return text


def _data_words(data: Any) -> str:
    if not isinstance(data, dict):
        return repr(data)
    return ", ".join(f"{k}={v}" for k, v in data.items())


def compare(groups: list[Group], any_protocol: bool = False, force: bool = False) -> Comparison:
    """Summarize every metric that all runs share, and test each group against the first.

    Args:
        groups: the compared directories; the first is the reference.
        any_protocol: compare numbers measured under different protocols.
        force: compare runs trained on different data (with a warning).

    Raises:
        ArenaError: runs on different data (unless ``force``), numbers measured under different
            protocols (unless ``any_protocol``).
    """
    runs = [(g.label, label, r) for g in groups for label, r in g.runs.items()]
    data = runs[0][2].get("data")
    for group, label, r in runs[1:]:
        if r.get("data") != data:
            line = (f"{group} ({label}) trains on other data ({_data_words(r.get('data'))}) than {runs[0][0]} "
                    f"({runs[0][1]}: {_data_words(data)})")
            if not force:
                raise ArenaError(f"{line}; their numbers do not compare (--force compares them anyway)")
            warnings.warn(f"{line}; compared anyway (--force)", RuntimeWarning, stacklevel=2)
            break
    first = runs[0][2]["protocol"]
    if not any_protocol:
        for group, label, r in runs[1:]:
            if not same_protocol(first, r["protocol"]):
                raise ArenaError(
                    f"{group} ({label}) was measured under another protocol ({_describe(r['protocol'])}) than "
                    f"{runs[0][0]} ({runs[0][1]}: {_describe(first)}); evaluate them alike (arena eval -n N) or pass "
                    f"--any-protocol")
    shared = [m for m in runs[0][2]["metrics"] if all(m in r["metrics"] for _, _, r in runs)]
    cells, pvalues = {}, {}
    for m in shared:
        values = [[r["metrics"][m] for r in g.runs.values()] for g in groups]
        cells[m] = [summarize(v, DIRECTION.get(m)) for v in values]
        pvalues[m] = [welch(values[0], v) for v in values[1:]]
    return Comparison(groups, shared, cells, pvalues, first)

