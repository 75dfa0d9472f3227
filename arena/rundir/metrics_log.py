"""``metrics.jsonl``: the run's log, one JSON object a line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from arena.core.errors import RunDirError
from arena.core.files import append_line, atomic_write, dump_json, parse_json, read_lines

MAX_LOG_BYTES = 4 * 1024**3
"""The largest metrics.jsonl read (a run logging every matching for days writes some hundreds of
MB); it is streamed a line at a time."""
MAX_LINE_BYTES = 16 * 1024**2
"""The longest line of it (a 32 x 32 payoff record is some tens of KB)."""

__all__ = ["MetricsLog", "is_number"]


def is_number(value: Any) -> bool:
    """Whether a record's value is a number (a metric), not a name, a list, a mapping or a flag."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class MetricsLog:
    """``metrics.jsonl``: one JSON object a line, flushed as it is written."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lines = sum(1 for _ in self._lines()) if self.path.exists() else 0

    def _lines(self) -> Iterator[str]:
        return read_lines(self.path, MAX_LOG_BYTES, MAX_LINE_BYTES, "metrics log")

    def write(self, record: dict[str, Any]) -> None:
        append_line(self.path, dump_json(record))
        self.lines += 1

    def truncate(self, lines: int) -> None:
        """Keep the first ``lines`` lines (a resumed run rewrites what came after its checkpoint)."""
        if not self.path.exists():
            self.lines = 0
            return
        kept = [line for _, line in zip(range(lines), self._lines())]
        if len(kept) == self.lines == lines:
            return  # nothing after them
        atomic_write(self.path, "".join(kept).encode())
        self.lines = len(kept)

    def read(self) -> list[dict[str, Any]]:
        """Every record; a last line cut short (a run writing or killed mid-line) is skipped."""
        if not self.path.exists():
            return []
        out = []
        for number, line in enumerate(self._lines(), 1):
            if not line.strip():
                continue
            try:
                record = parse_json(line, f"{self.path}, line {number}", dict)
            except RunDirError:
                if line.endswith("\n"):
                    raise
                continue
            if not isinstance(record.get("kind"), str):
                raise RunDirError(f"{self.path}, line {number}: a record without a 'kind'")
            out.append(record)
        return out
