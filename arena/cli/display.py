"""What a run shows on the terminal, as callbacks: a progress bar with the live leaderboard under
it and event lines (:class:`Display`), and the graceful handling of Ctrl-C (:class:`Interrupts`:
finish the matching, checkpoint, stop)."""

from __future__ import annotations

import signal
import sys
from typing import Any

from rich.markup import escape

from arena.output.record import OutputRecord
from arena.rundir.metrics_log import is_number
from arena.tournament.callbacks import Callback
from arena.tournament.leaderboard import SHOWN_METRICS

__all__ = ["Display", "Interrupts", "leaderboard_table", "event_line"]

_STAMP = ("kind", "matching", "rounds", "agent", "protocol")


def _cell(value: Any, digits: int = 4) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


_SHORT = {"modes": "modes", "high_quality": "hq%", "reverse_kl": "rKL", "tv": "tv", "symbols": "sym",
          "diversity": "div", "d_gap": "|D-½|"}


def leaderboard_table(rows: list[dict[str, Any]], title: str = "leaderboard", output: OutputRecord | None = None):
    """A rich table of leaderboard ``rows`` that fits an 80-column terminal (one line a row; a
    long status is cut with an ellipsis), the mixture's metrics as a last row and its weights
    in the caption."""
    from rich import box
    from rich.table import Table

    shown = [k for k in SHOWN_METRICS if any(row.get(k) is not None for row in rows)
             or (output and output.metrics.get(k) is not None)]
    caption = None
    if output:
        caption = "mixture: " + ", ".join(f"{n} {w:.2f}" for n, w in zip(output.components, output.weights))
    table = Table(title=escape(title), title_justify="left", caption=caption and escape(caption), caption_justify="left",
                  box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    names = max([len(row["agent"]) for row in rows] + [7 if output else 5])
    fixed = (("#", "right", 2), ("agent", "left", min(names, 12)), ("R", "left", 1), ("rating", "right", 6),
             ("±", "right", 4), ("games", "right", 5), ("score", "right", 5), *((_SHORT[k], "right", 5) for k in shown))
    for column, justify, width in fixed:
        table.add_column(column, justify=justify, no_wrap=True, width=width, overflow="ellipsis")  # type: ignore[arg-type]
    # what is left of 80 columns (1 space between columns) goes to the status
    left = 80 - sum(width for _, _, width in fixed) - 2 * len(fixed) - 1
    table.add_column("status", justify="left", no_wrap=True, overflow="ellipsis", max_width=max(left, 6))
    for row in rows:
        style = "dim" if row["status"] == "retired" else None
        rating = None if row["rating"] is None else f"{row['rating']:.0f}"
        unc = None if row["uncertainty"] is None else f"{row['uncertainty']:.0f}"
        table.add_row(str(row["rank"]), escape(str(row["agent"])), row["role"][0].upper(), _cell(rating), _cell(unc), str(row["matches"]),
                      _cell(row["score"], 3), *(_cell(row.get(k), 3) for k in shown), escape(str(row["status"])), style=style)
    if output:
        metrics = output.metrics
        table.add_row("", "mixture", "G", "", "", "", "", *(_cell(metrics.get(k), 3) for k in shown), "")
    return table


def event_line(record: dict[str, Any]) -> str | None:
    """The terminal line for a logged record, or None for records shown otherwise (training
    metrics on the progress bar, the payoff matrix and the mixture on the leaderboard)."""
    kind = record["kind"]
    if kind == "eval" and record["agent"] != "mixture":
        shown = ", ".join(f"{k} {v:.3g}" for k, v in record.items()
                          if k not in _STAMP and is_number(v))
        return f"matching {record['matching']}: {record['agent']}: {shown}" if shown else None
    if kind == "warning":
        return f"warning: {record['message']}"
    if kind == "divergence":
        action = "agent retired" if record["action"] == "retired" else f"learning rate lowered to {record['lr']:.3g}"
        return f"divergence: {record['agent']}: {record['reason']}; match voided, {action}"
    if kind == "selection" and record.get("parent"):
        return f"selection: {record['replaced']} is now a copy of {record['parent']} (lr {record['lr']:.3g})"
    return None


class Display(Callback):
    """A rich progress bar while training on a terminal, with the live leaderboard under it;
    plain event lines. ``quiet``: nothing at all."""

    def __init__(self, title: str, quiet: bool = False) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, log_path=False)
        self.quiet = quiet
        self.title = title
        self.progress = None
        self.task = None
        self.board = None  # the leaderboard table shown under the bar

    def on_run_start(self, tournament) -> None:
        if self.quiet or self.progress is not None:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        display = self

        class WithBoard(Progress):
            def get_renderables(self):
                yield from super().get_renderables()
                if display.board is not None:
                    yield display.board

        self.progress = WithBoard(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rounds"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[stats]}"),
            console=self.console,
            transient=False,
        )
        self.progress.__enter__()
        self.task = self.progress.add_task(self.title, total=None, stats="")

    def on_run_end(self, tournament) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)
            self.progress = None

    def on_match_end(self, tournament, outcome, rounds_done, rounds_total) -> None:
        if self.progress is not None:
            shown = "  ".join(f"{k} {v:.3f}" for k, v in (outcome.stats or {}).items())
            self.progress.update(self.task, completed=rounds_done, total=rounds_total, stats=shown)

    def message(self, text: str) -> None:
        if not self.quiet:
            self.console.log(text)

    def on_log(self, tournament, record) -> None:
        line = event_line(record)
        if line is not None:
            self.message(line)

    def on_checkpoint(self, tournament) -> None:
        self.message(f"checkpoint after matching {tournament.completed}")

    def on_review(self, tournament, review) -> None:
        if self.progress is not None and len(review.leaderboard) > 2:  # a 1 x 1 run needs no table
            self.board = leaderboard_table(review.leaderboard, "leaderboard", review.output)
            self.progress.refresh()


class Interrupts(Callback):
    """While the loop runs: the first Ctrl-C (SIGINT) or SIGTERM (``kill``, ``docker stop``, a
    scheduler's pre-emption) finishes the current matching, writes a checkpoint and stops; a
    second stops at once (KeyboardInterrupt). ``signal`` is the first one received, if any."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self) -> None:
        self.previous: dict[int, object] = {}
        self.signal: int | None = None

    def on_run_start(self, tournament) -> None:
        def handler(signum, frame):
            if tournament.stop_requested:
                raise KeyboardInterrupt
            self.signal = signum
            tournament.request_stop()
            name = "interrupt" if signum == signal.SIGINT else signal.Signals(signum).name
            again = "Ctrl-C" if signum == signal.SIGINT else "a second signal"
            print(f"\n{name}: finishing this matching and writing a checkpoint ({again} to stop at once)",
                  file=sys.stderr)

        for name in self.SIGNALS:
            number = getattr(signal, name, None)
            if number is None:
                continue
            try:
                self.previous[number] = signal.signal(number, handler)
            except ValueError:  # not the main thread
                pass

    def on_run_end(self, tournament) -> None:
        for number, previous in self.previous.items():
            signal.signal(number, previous)
        self.previous = {}
