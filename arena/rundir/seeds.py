"""A parent directory of several seeds of one config: ``arena run CONFIG --seeds 0,1,2``.

::

    PARENT/
      seeds.json     the config's source, the seeds, each seed's run directory and its output's
                     final metrics (with their protocol)
      config.yaml    the resolved config of the first seed (the others differ in ``seed`` only)
      seed-0/ ...    one run directory per seed
      report.html    every seed on one page (`arena report PARENT`)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from arena.core.errors import RunDirError
from arena.core.files import atomic_write, dump_json, inside, read_json, refuse_links
from arena.rundir.rundir import RunDir, new_directory

__all__ = ["SeedsDir", "output_metrics"]


def output_metrics(run_dir: RunDir) -> dict[str, Any] | None:
    """The output of a run as its training last measured it: the mixture's metrics (a 1 x 1 run's
    generator's), with ``matching`` and ``protocol``; None before the first review."""
    records = run_dir.metrics.read()
    evals = [r for r in records if r["kind"] == "eval" and "d_gap" not in r]
    if not evals:
        return None
    mixture = [r for r in evals if r["agent"] == "mixture"]
    last = mixture[-1] if mixture else evals[-1]
    skip = {"kind", "rounds", "components", "weights"}
    return {k: v for k, v in last.items() if k not in skip}


class SeedsDir:
    """A parent directory of runs that differ in their seed only.

    Args:
        path: a directory holding ``seeds.json``.
    """

    INDEX = "seeds.json"
    CONFIG = "config.yaml"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.holds(self.path):
            raise RunDirError(f"{self.path} is not a directory of seeds (no {self.INDEX})")
        refuse_links(self.path)

    @classmethod
    def holds(cls, path: str | Path) -> bool:
        return (Path(path) / cls.INDEX).is_file()

    @classmethod
    def create(cls, config, seeds: list[int], out: str | Path | None, root: str | Path = "runs") -> SeedsDir:
        """Make the parent directory and its index (``out``, or ``root/<name>-<time>-seeds``)."""
        from arena.config import dump_config

        if not seeds or len(set(seeds)) != len(seeds):
            raise RunDirError(f"--seeds: expected distinct seeds, got {seeds}")
        path = new_directory(out, root, f"{config.name}-seeds")
        atomic_write(path / cls.CONFIG, dump_config(config).encode())
        index = {
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "config_source": config.origin.source if config.origin is not None else None,
            "seeds": list(seeds),
            "runs": {str(s): f"seed-{s}" for s in seeds},
            "outputs": {},
        }
        atomic_write(path / cls.INDEX, dump_json(index, indent=1).encode())
        return cls(path)

    def index(self) -> dict[str, Any]:
        """``seeds.json``, its shape checked: ``seeds`` distinct non-negative integers, ``runs`` a
        directory name inside this one for each."""
        path = self.path / self.INDEX
        index = read_json(path, dict)
        seeds, runs = index.get("seeds"), index.get("runs")
        if not isinstance(seeds, list) or not seeds or len(set(map(repr, seeds))) != len(seeds) or not all(
                isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**63 for s in seeds):
            raise RunDirError(f"{path}: 'seeds' must be a list of distinct non-negative integers")
        if not isinstance(runs, dict) or any(str(s) not in runs for s in seeds):
            raise RunDirError(f"{path}: 'runs' must name a directory for every seed")
        if not isinstance(index.setdefault("outputs", {}), dict):
            raise RunDirError(f"{path}: 'outputs' must be an object")
        return index

    @property
    def seeds(self) -> list[int]:
        return list(self.index()["seeds"])

    def run_path(self, seed: int) -> Path:
        """The run directory of ``seed``, which must lie inside this one."""
        return inside(self.path, self.index()["runs"][str(seed)], f"the run of seed {seed}")

    def runs(self) -> list[tuple[int, RunDir]]:
        """The seeds whose run directories exist, with them."""
        out = []
        for seed in self.seeds:
            path = self.run_path(seed)
            if (path / RunDir.CONFIG).is_file():
                out.append((seed, RunDir(path)))
        return out

    @property
    def finished(self) -> bool:
        """Whether every seed's run has finished."""
        done = 0
        for _, run_dir in self.runs():
            completed = max([r.get("matching", 0) for r in run_dir.metrics.read() if r["kind"] == "train"] or [0])
            done += completed >= run_dir.config().schedule.matchings
        return done == len(self.seeds)

    def record(self, seed: int) -> None:
        """Store the output metrics of ``seed``'s run in the index."""
        index = self.index()
        index["outputs"][str(seed)] = output_metrics(RunDir(self.run_path(seed)))
        atomic_write(self.path / self.INDEX, dump_json(index, indent=1).encode())
