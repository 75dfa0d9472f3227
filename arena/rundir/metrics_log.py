"""``metrics.jsonl``: the run's log, one JSON object a line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from arena.rundir.checkpoint import atomic_write

__all__ = ["MetricsLog", "is_number"]


def is_number(value: Any) -> bool:
    """Whether a record's value is a number (a metric), not a name, a list, a mapping or a flag."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class MetricsLog:
    """``metrics.jsonl``: one JSON object a line, flushed as it is written."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lines = sum(1 for _ in open(self.path)) if self.path.exists() else 0

    def write(self, record: dict[str, Any]) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record, allow_nan=True) + "\n")
        self.lines += 1

    def truncate(self, lines: int) -> None:
        """Keep the first ``lines`` lines (a resumed run rewrites what came after its checkpoint)."""
        if not self.path.exists():
            self.lines = 0
            return
        with open(self.path) as f:
            kept = [line for _, line in zip(range(lines), f)]
        if len(kept) == self.lines == lines:
            return  # nothing after them
        atomic_write(self.path, "".join(kept).encode())
        self.lines = len(kept)

    def read(self) -> list[dict[str, Any]]:
        """Every record; a last line cut short (a run writing or killed mid-line) is skipped."""
        if not self.path.exists():
            return []
        out = []
        for line in open(self.path):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                if line.endswith("\n"):
                    raise
        return out
