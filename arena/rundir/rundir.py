"""The run directory: one owner for every file a run writes and every command reads.

::

    RUN_DIR/
      config.yaml        the resolved config (every default filled in); `arena resume` reads it
      run.json           device, torch and Python versions, the command line
      metrics.jsonl      one JSON object a line (train, eval, payoff, selection, warning, divergence)
      results.json       every cross-play payoff matrix (the input of every rating system)
      leaderboard.json   the latest leaderboard, with the mixture (also leaderboard.csv)
      lineage.json       selection: who replaced whom, when, with which hyper-parameters
      mixture.json       the mixture's components, weights and metrics
      eval.json          what `arena eval` measured, by agent
      report.html        the whole run on one self-contained page (`arena report`)
      samples/           pictures of every generator's samples at every review, and
                         fixed-<matching>.npz: samples from fixed latent draws, for the report
      checkpoints/       ckpt-00000020.pt + .json manifest (sha256), the newest keep_last kept
      events.log         what was done to the directory itself (stale temporary files removed), a line each
      .lock              held by the process that trains the run

Every JSON file is written atomically (temporary file, fsync, rename), so a reader, or a
crash, sees either the old file or the whole new one.
"""

from __future__ import annotations

import csv
import io
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from arena.core.errors import RunDirError
from arena.core.files import append_line, dump_json, is_temporary, load_npz, read_json, refuse_links
from arena.output.record import OutputRecord
from arena.rundir.checkpoint import atomic_write, list_checkpoints, load_checkpoint, load_one, save_checkpoint
from arena.rundir.lock import RunLock
from arena.rundir.metrics_log import MetricsLog

if TYPE_CHECKING:  # pragma: no cover
    from arena.config import RunConfig

__all__ = ["RunDir", "new_directory"]


def new_directory(out: str | Path | None, root: str | Path, stem: str) -> Path:
    """Make a directory that holds nothing yet: ``out``, or ``root/<stem>-<time>`` (numbered where
    that exists already).

    Raises:
        RunDirError: ``out`` exists and is not empty (a run is never written over).
    """
    if out is not None:
        path = Path(out)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunDirError(f"{path} already exists and is not empty; choose a new --out, or `arena resume {path}`")
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(root) / f"{stem}-{stamp}"
        i = 1
        while path.exists():
            path = Path(root) / f"{stem}-{stamp}-{i}"
            i += 1
    path.mkdir(parents=True, exist_ok=True)
    return path


MAX_SAMPLES_BYTES = 1 << 30
"""The most the archives of fixed-latent samples may decode to, all together."""


class RunDir:
    """A run directory (see the module docstring for its files).

    Args:
        path: the directory; it must hold ``config.yaml`` (use :meth:`create` for a new one).
    """

    CONFIG = "config.yaml"
    RUN_INFO = "run.json"
    METRICS = "metrics.jsonl"
    RESULTS = "results.json"
    LEADERBOARD_JSON = "leaderboard.json"
    LEADERBOARD_CSV = "leaderboard.csv"
    LINEAGE = "lineage.json"
    MIXTURE = "mixture.json"
    EVAL = "eval.json"
    REPORT = "report.html"
    SAMPLES = "samples"
    CHECKPOINTS = "checkpoints"
    LOCK = ".lock"
    EVENTS = "events.log"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not (self.path / self.CONFIG).is_file():
            raise RunDirError(f"{self.path} is not a run directory (no {self.CONFIG})")
        refuse_links(self.path)  # a planted link would let a write land outside the run
        self.metrics = MetricsLog(self.path / self.METRICS)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    # ------------------------------------------------------------------ creating
    @classmethod
    def create(cls, config: RunConfig, out: str | Path | None, device: torch.device | str,
               root: str | Path = "runs") -> RunDir:
        """Make a new run directory (``out``, or ``root/<name>-<time>``) holding the resolved
        config and ``run.json``.

        Raises:
            RunDirError: ``out`` exists and is not empty.
        """
        from arena.config import dump_config

        path = new_directory(out, root, config.name)
        (path / cls.SAMPLES).mkdir(exist_ok=True)
        atomic_write(path / cls.CONFIG, dump_config(config).encode())
        info: dict[str, Any] = {
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": sys.argv,
            "device": str(device),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "config_source": config.origin.source if config.origin is not None else None,
        }
        atomic_write(path / cls.RUN_INFO, dump_json(info, indent=1).encode())
        return cls(path)

    def add_info(self, key: str, value: Any) -> None:
        """Add ``key`` to ``run.json`` (what the run decided once it was built: the compute path)."""
        info = self.read_json(self.RUN_INFO, "it is written when the run is created", dict)
        self.write_json(self.RUN_INFO, {**info, key: value})

    def config(self) -> RunConfig:
        """The resolved config of the run."""
        from arena.config import load_config

        return load_config(self.path / self.CONFIG)

    def lock(self) -> RunLock:
        """The lock of this directory (``with run_dir.lock().held(): ...``)."""
        return RunLock(self.path / self.LOCK)

    def note(self, text: str) -> None:
        """Append a line (with the time) to ``events.log``: what was done to the directory
        itself, kept apart from ``metrics.jsonl`` so that a resumed run's metrics stay those of
        an uninterrupted one."""
        append_line(self.path / self.EVENTS, f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} {text}")

    def remove_stale(self, before: float) -> list[Path]:
        """Remove the directory's own temporary files (:func:`arena.core.files.is_temporary`: a
        write a crash cut short) last touched before ``before`` (the lock holder's start: no
        writer of ours can still own them), and note how many in ``events.log``. Nothing else
        is touched."""
        removed = []
        for folder in (self.path, self.path / self.CHECKPOINTS, self.path / self.SAMPLES):
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    if (is_temporary(entry.name) and entry.is_file(follow_symlinks=False)
                            and entry.stat(follow_symlinks=False).st_mtime < before):
                        os.unlink(entry.path)
                        removed.append(Path(entry.path))
                except FileNotFoundError:
                    continue
        if removed:
            self.note(f"removed {len(removed)} stale temporary file(s) of writes cut short: "
                      + ", ".join(str(p.relative_to(self.path)) for p in removed))
        return removed

    # ------------------------------------------------------------------ JSON files
    def write_json(self, name: str, data: Any) -> None:
        """Write ``data`` as ``name`` atomically."""
        atomic_write(self.path / name, dump_json(data, indent=1).encode())

    def read_json(self, name: str, when: str = "it is written at the first review",
                  expect: type | tuple[type, ...] | None = None) -> Any:
        """The contents of ``name`` (its top-level value of type ``expect`` where given); a
        :class:`RunDirError` saying when it appears if it does not exist yet, or what is wrong
        with it."""
        path = self.path / name
        if not path.exists():
            raise RunDirError(f"{self.path} has no {name} yet ({when})")
        return read_json(path, expect)

    def write_standings(self, rows: list[dict[str, Any]], header: dict[str, Any], results: list, lineage: list,
                        output: OutputRecord | None) -> None:
        """The leaderboard (JSON: ``header``, the output record as ``mixture``, the rows; CSV: the
        rows), the results, the lineage and the output record (``mixture.json``), each written
        atomically."""
        record = output.as_dict() if output is not None else None
        self.write_json(self.LEADERBOARD_JSON, {**header, "mixture": record, "rows": rows})
        fields = list(dict.fromkeys(k for row in rows for k in row))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write(self.path / self.LEADERBOARD_CSV, buf.getvalue().encode())
        self.write_json(self.RESULTS, results)
        self.write_json(self.LINEAGE, lineage)
        self.write_json(self.MIXTURE, record)

    def output(self) -> OutputRecord | None:
        """The output the latest review chose (``mixture.json``); None before the first review."""
        if not (self.path / self.MIXTURE).exists():
            return None
        record = self.read_json(self.MIXTURE, expect=(dict, type(None)))
        return OutputRecord.from_dict(record, str(self.path / self.MIXTURE)) if record else None

    def leaderboard(self) -> dict[str, Any]:
        """The latest leaderboard: ``matching``, ``rounds``, ``system``, ``mixture`` and ``rows``."""
        board = self.read_json(self.LEADERBOARD_JSON, expect=dict)
        rows = board.get("rows")
        if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("agent"), str) for r in rows):
            raise RunDirError(f"{self.path / self.LEADERBOARD_JSON}: 'rows' must be a list of objects with an 'agent'")
        return board

    def results(self) -> list[dict[str, Any]]:
        """Every recorded cross-play period (the input of the rating systems)."""
        results = self.read_json(self.RESULTS, expect=list)
        if not all(isinstance(p, dict) for p in results):
            raise RunDirError(f"{self.path / self.RESULTS}: every period must be an object")
        return results

    def evaluations(self) -> dict[str, Any]:
        """What ``arena eval`` has measured so far, by agent (empty before the first)."""
        path = self.path / self.EVAL
        if not path.exists():
            return {}
        records = read_json(path, dict)
        if not all(isinstance(v, dict) for v in records.values()):
            raise RunDirError(f"{path}: every agent's record must be an object")
        return records

    def merge_evaluations(self, records: dict[str, dict[str, Any]]) -> Path:
        """Add (or replace) the ``arena eval`` records of some agents in ``eval.json``."""
        merged = {**self.evaluations(), **records}
        self.write_json(self.EVAL, merged)
        return self.path / self.EVAL

    # ------------------------------------------------------------------ pictures
    def picture(self, agent: str, matching: int) -> Path:
        """Where the picture of ``agent``'s samples at ``matching`` goes."""
        folder = self.path / self.SAMPLES
        folder.mkdir(exist_ok=True)
        return folder / f"{agent}-{matching:06d}.png"

    def save_fixed_samples(self, matching: int, samples: dict[str, np.ndarray]) -> Path:
        """Samples of each generator (and the mixture) from fixed latent draws at ``matching``."""
        folder = self.path / self.SAMPLES
        folder.mkdir(exist_ok=True)
        buf = io.BytesIO()
        np.savez_compressed(buf, **samples)
        path = folder / f"fixed-{matching:06d}.npz"
        atomic_write(path, buf.getvalue())
        return path

    def fixed_samples(self) -> dict[int, dict[str, np.ndarray]]:
        """Every evaluation's fixed-latent samples, by matching (oldest first)."""
        out = {}
        left = MAX_SAMPLES_BYTES  # in all: a report holds every archive at once
        for path in sorted((self.path / self.SAMPLES).glob("fixed-*.npz")):
            try:
                matching = int(path.stem.split("-")[1])
                arrays = load_npz(path, left)
            except (OSError, ValueError, RunDirError) as exc:  # being written by a run in progress, or tampered
                warnings.warn(f"{path}: left out ({str(exc)[:200]})", RuntimeWarning, stacklevel=2)
                continue
            left -= sum(a.nbytes for a in arrays.values())
            out[matching] = arrays
        return out

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_dir(self) -> Path:
        return self.path / self.CHECKPOINTS

    def checkpoints(self) -> list[Path]:
        """Checkpoint manifests, oldest first."""
        return list_checkpoints(self.checkpoint_dir)

    def save_checkpoint(self, state: dict[str, Any], matching: int, keep_last: int) -> Path:
        """Save the state after ``matching`` matchings (atomically); keep the newest ``keep_last``."""
        return save_checkpoint(self.checkpoint_dir, state, matching, keep_last)

    def load_checkpoint(self, manifest: Path | None = None) -> dict[str, Any]:
        """The newest checkpoint that passes its checksum (older ones are tried with a warning),
        or the one of ``manifest`` (one of :meth:`checkpoints`).

        Raises:
            CheckpointError: no usable checkpoint (or ``manifest``'s fails its checksum).
        """
        if manifest is not None:
            return load_one(Path(manifest))
        return load_checkpoint(self.checkpoint_dir)

    def has_checkpoint(self) -> bool:
        return bool(self.checkpoints())

