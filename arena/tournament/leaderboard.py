"""The leaderboard: every agent's rank, rating, matches, last metrics and status.

Rows are built from the tournament's state; the same rows are shown live during a run,
written to ``leaderboard.csv`` and ``leaderboard.json`` in the run directory, and printed by
``arena leaderboard RUN_DIR``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from arena.rundir.checkpoint import atomic_write
from arena.tournament.ratings import Rating

__all__ = ["leaderboard_rows", "write_leaderboard", "read_leaderboard", "leaderboard_table", "LEADERBOARD_CSV", "LEADERBOARD_JSON"]

LEADERBOARD_CSV = "leaderboard.csv"
LEADERBOARD_JSON = "leaderboard.json"

# Metrics shown in the table's "metrics" column, in this order, where present, with short labels.
_SHOWN = ("modes", "high_quality", "reverse_kl", "tv", "symbols", "diversity", "d_gap")
_LABELS = {"modes": "modes", "high_quality": "hq%", "reverse_kl": "rKL", "tv": "tv", "symbols": "symbols",
           "diversity": "div", "d_gap": "|D-1/2|"}


def leaderboard_rows(
    agents: Sequence[tuple[str, str, str]],
    ratings: dict[str, Rating],
    matches: dict[str, int],
    scores: dict[str, float],
    metrics: dict[str, dict[str, float]],
    status: dict[str, str],
) -> list[dict[str, Any]]:
    """One row per agent, ranked by rating within its role (generators first).

    Args:
        agents: ``(name, role, rating identity)`` of every agent (the identity changes when
            selection replaces an agent by a copy, so the copy is rated afresh).
        ratings: ratings by identity.
        matches: training matches played, by name.
        scores: the mean cross-play score in the latest evaluation, by name.
        metrics: the latest quality metrics, by name.
        status: ``active``, ``retired`` ... by name.
    """
    rows = []
    for role in ("generator", "discriminator"):
        members = [(name, ident) for name, r, ident in agents if r == role]
        members.sort(key=lambda m: -(ratings[m[1]].rating if m[1] in ratings else float("-inf")))
        for rank, (name, ident) in enumerate(members, 1):
            rating = ratings.get(ident)
            rows.append({
                "rank": rank,
                "agent": name,
                "role": role,
                "rating": None if rating is None else round(rating.rating, 1),
                "uncertainty": None if rating is None or rating.uncertainty is None else round(rating.uncertainty, 1),
                "matches": matches.get(name, 0),
                "score": None if name not in scores else round(scores[name], 4),
                **{k: metrics.get(name, {}).get(k) for k in _SHOWN if k in metrics.get(name, {})},
                "status": status.get(name, "active"),
            })
    return rows


def write_leaderboard(run_dir: Path, rows: list[dict[str, Any]], header: dict[str, Any]) -> None:
    """``leaderboard.json`` (``header`` plus the rows) and ``leaderboard.csv``, each written atomically."""
    atomic_write(run_dir / LEADERBOARD_JSON, json.dumps({**header, "rows": rows}, indent=1).encode())
    fields = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(run_dir / LEADERBOARD_CSV, buf.getvalue().encode())


def read_leaderboard(run_dir: Path) -> dict[str, Any]:
    from arena.core.errors import RunDirError

    path = run_dir / LEADERBOARD_JSON
    if not path.is_file():
        raise RunDirError(f"{run_dir} has no {LEADERBOARD_JSON} yet (it is written at the first evaluation)")
    return json.loads(path.read_text())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _metrics_cell(values: dict[str, Any]) -> str:
    return " ".join(f"{_LABELS[k]} {values[k]:.3g}" for k in _SHOWN if values.get(k) is not None)


def leaderboard_table(rows: list[dict[str, Any]], title: str = "leaderboard", mixture: dict[str, Any] | None = None):
    """A rich table of ``rows`` (and the mixture's metrics as a last line)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column, justify in (("#", "right"), ("agent", "left"), ("role", "left"), ("rating", "right"),
                            ("±", "right"), ("matches", "right"), ("score", "right"), ("metrics", "left"),
                            ("status", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        shown = _metrics_cell(row)
        style = "dim" if row["status"] == "retired" else None
        table.add_row(str(row["rank"]), row["agent"], row["role"][0].upper(), _cell(row["rating"]),
                      _cell(row["uncertainty"]), str(row["matches"]), _cell(row["score"]), shown, row["status"], style=style)
    if mixture:
        shown = _metrics_cell(mixture.get("metrics", {}))
        parts = " ".join(f"{n} {w:.2f}" for n, w in zip(mixture["components"], mixture["weights"]))
        table.add_row("", "mixture", "G", "", "", "", "", shown, parts)
    return table
