"""The report of a parent directory of seeds: the output's final metrics of every seed with mean,
standard error and worst seed, the output's metrics over time with one line per seed, and a link
to each seed's own report."""

from __future__ import annotations

from typing import Any

from arena.report import charts
from arena.report.collect import collect
from arena.report.compare import DIRECTION, format_cell, summarize
from arena.rundir.seeds import SeedsDir

__all__ = ["seeds_context"]


def seeds_context(parent: SeedsDir, progress=None) -> dict[str, Any]:
    """Everything the template shows for a parent directory of seeds."""
    report = progress or (lambda task, done, total: None)
    runs = parent.runs()
    records = []
    for i, (seed, run_dir) in enumerate(runs):
        report("reading the seeds", i, len(runs))
        records.append((f"seed {seed}", collect(run_dir)))
    index = parent.index()
    outputs = {f"seed {s}": index["outputs"].get(str(s)) for s, _ in runs}
    labels = [label for label, out in outputs.items() if out]
    metrics = [m for m in dict.fromkeys(k for out in outputs.values() if out for k in out)
               if m not in ("matching", "agent", "protocol") and all(isinstance(outputs[lab].get(m), (int, float)) for lab in labels)]
    rows = []
    for m in metrics:
        values = [outputs[lab][m] for lab in labels]
        cell = summarize(values, DIRECTION.get(m))
        rows.append({"metric": charts.METRIC_TITLES.get(m, m), "mean": format_cell({**cell, "worst": None}),
                     "worst": "" if cell["worst"] is None else f"{cell['worst']:.4g}",
                     "per_seed": [f"{v:.4g}" if isinstance(v, float) else str(v) for v in values]})
    out_charts = []
    keys = [k for k in ("high_quality", "modes", "reverse_kl", "tv", "diversity", "quality") if k in metrics]
    for k in keys[:3]:
        image = charts.seeds_chart(records, k)
        if image:
            out_charts.append({"id": f"seeds-{k}", "title": f"{charts.METRIC_TITLES.get(k, k)} over time",
                               "note": "The output (the mixture where there is one) of every seed at every review.",
                               "uri": image})
    first = records[0][1] if records else None
    finished = all(r.finished for _, r in records) and len(records) == len(parent.seeds)
    links = ", ".join(f"{label}: {run.path}/report.html" for label, run in records)
    return {
        "title": f"{first.config['name'] if first else parent.path.name}: {parent.path.name} ({len(parent.seeds)} seeds)",
        "subtitle": f"seeds {', '.join(map(str, parent.seeds))}",
        "path": str(parent.path),
        "finished": finished,
        "completed": sum(r.completed for _, r in records),
        "matchings": sum(r.matchings for _, r in records) if records else 0,
        "rounds": f"{sum(max([x['rounds'] for x in r.train] or [0]) for _, r in records):,}",
        "sections": [("seeds", "Seeds"), *[(c["id"], c["title"]) for c in out_charts], ("config", "Config")],
        "output": None,
        "leaderboard": None,
        "system": "",
        "charts": out_charts,
        "seeds": {"labels": labels, "rows": rows},
        "events": None,
        "config_text": (parent.path / SeedsDir.CONFIG).read_text() + f"\n# each seed's own report: {links}\n",
        "info": "",
    }
