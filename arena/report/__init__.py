"""The run report: one self-contained HTML page per run directory (or parent of seeds), with the
config, the leaderboard, ratings over time, the payoff matrix, the lineage, samples over time,
training curves, metrics over time and events (``arena report RUN_DIR``)."""

from arena.report.build import build_report

__all__ = ["build_report"]
