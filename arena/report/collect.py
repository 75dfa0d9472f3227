"""What a report shows, read from a run directory (also one a run is still writing).

Everything comes through :class:`arena.rundir.RunDir`: the resolved config and ``run.json``,
the metrics log, the recorded cross-play results (from which the ratings are recomputed after
every period: they are pure functions of the results), the lineage, the mixture, the leaderboard
and the fixed-latent samples of every review.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from typing import Any

import numpy as np

from arena.config.safe_yaml import MAX_BYTES
from arena.core.errors import WRONG_SHAPE, RunDirError
from arena.core.files import read_text
from arena.output.record import OutputRecord
from arena.rundir import RunDir
from arena.tournament.ratings import compute_ratings

__all__ = ["RunRecord", "collect"]


@dataclasses.dataclass
class RunRecord:
    """One run directory's contents, ready to be drawn."""

    path: str
    config: dict[str, Any]
    config_text: str
    info: dict[str, Any]
    train: list[dict[str, Any]]
    evals: list[dict[str, Any]]
    events: list[dict[str, Any]]
    results: list[dict[str, Any]]
    ratings: list[dict[str, Any]]
    """After each period: ``{"matching": k, "ratings": {identity: (rating, uncertainty)}}``."""
    lineage: list[dict[str, Any]]
    output: OutputRecord | None
    """The output the last review chose (``mixture.json``)."""
    leaderboard: dict[str, Any] | None
    fixed: dict[int, dict[str, np.ndarray]]
    evaluations: dict[str, Any]
    completed: int
    matchings: int

    @property
    def finished(self) -> bool:
        return self.completed >= self.matchings

    @property
    def generators(self) -> list[str]:
        names = [r["agent"] for r in self.evals if r["agent"] != "mixture" and "d_gap" not in r]
        if self.results:
            names = list(dict.fromkeys([n.split("@")[0] for p in self.results for n in p["generators"]] + names))
        return list(dict.fromkeys(names))


def _optional_json(run_dir: RunDir, name: str, expect: type | None = None) -> Any:
    """``name``'s contents; None where it does not exist yet, or (with a warning: the report
    leaves it out) where it is malformed."""
    if not (run_dir.path / name).exists():
        return None
    try:
        return run_dir.read_json(name, expect=expect)
    except RunDirError as exc:
        warnings.warn(f"the report leaves out {name}: {exc}", RuntimeWarning, stacklevel=2)
        return None


def _optional_output(run_dir: RunDir) -> OutputRecord | None:
    """The output record; None where there is none yet, or (with a warning) where it is malformed."""
    try:
        return run_dir.output()
    except RunDirError as exc:
        warnings.warn(f"the report leaves out {RunDir.MIXTURE}: {exc}", RuntimeWarning, stacklevel=2)
        return None


def collect(run_dir: RunDir) -> RunRecord:
    """Read everything a report shows from ``run_dir``."""
    config = run_dir.config()
    records = run_dir.metrics.read()
    results = _optional_json(run_dir, RunDir.RESULTS, list) or []
    system = config.ratings.system
    ratings = []
    try:
        for k in range(1, len(results) + 1):
            now = compute_ratings(system, results[:k])
            ratings.append({"matching": results[k - 1]["matching"],
                            "ratings": {n: (r.rating, r.uncertainty) for n, r in now.items()}})
    except WRONG_SHAPE as exc:
        warnings.warn(f"{run_dir.path / RunDir.RESULTS}: malformed ({type(exc).__name__}: {str(exc)[:120]}); "
                      f"the report shows no ratings", RuntimeWarning, stacklevel=2)
        ratings = []
    info = _optional_json(run_dir, RunDir.RUN_INFO, dict) or {}
    completed = max([r["matching"] for r in records if r["kind"] in ("train", "eval")
                     and isinstance(r.get("matching"), int)] or [0])
    return RunRecord(
        path=str(run_dir.path),
        config=json.loads(json.dumps(_config_dict(config))),
        config_text=read_text(run_dir.path / RunDir.CONFIG, MAX_BYTES, "config file"),
        info=info,
        train=[r for r in records if r["kind"] == "train"],
        evals=[r for r in records if r["kind"] == "eval"],
        events=[r for r in records if r["kind"] in ("warning", "divergence", "selection")],
        results=results,
        ratings=ratings,
        lineage=_optional_json(run_dir, RunDir.LINEAGE, list) or [],
        output=_optional_output(run_dir),
        leaderboard=_optional_json(run_dir, RunDir.LEADERBOARD_JSON, dict),
        fixed=run_dir.fixed_samples(),
        evaluations=_optional_json(run_dir, RunDir.EVAL, dict) or {},
        completed=completed,
        matchings=config.schedule.matchings,
    )


def _config_dict(config) -> dict[str, Any]:
    from arena.config import config_to_dict

    return config_to_dict(config)
