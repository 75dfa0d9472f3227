"""What a run shows on the terminal: a progress bar with the live leaderboard under it, event
lines, and the graceful handling of Ctrl-C (finish the matching, checkpoint, stop)."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator

__all__ = ["Display", "graceful_interrupt"]


class Display:
    """A rich progress bar while training on a terminal; plain event lines otherwise."""

    def __init__(self, quiet: bool, title: str) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, log_path=False)
        self.quiet = quiet
        self.title = title
        self.progress = None
        self.task = None
        self.board = None  # the leaderboard table shown under the bar

    def __enter__(self) -> Display:
        if not self.quiet:
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
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def on_progress(self, done: int, total: int, stats: dict[str, float]) -> None:
        if self.progress is not None:
            shown = "  ".join(f"{k} {v:.3f}" for k, v in stats.items())
            self.progress.update(self.task, completed=done, total=total, stats=shown)

    def on_event(self, message: str) -> None:
        if not self.quiet:
            self.console.log(message)

    def on_leaderboard(self, rows, mixture) -> None:
        from arena.tournament.leaderboard import leaderboard_table

        if self.progress is not None and len(rows) > 2:  # a 1 x 1 run needs no table
            shown = mixture
            self.board = leaderboard_table(rows, "leaderboard", shown)
            self.progress.refresh()


@contextlib.contextmanager
def graceful_interrupt(tournament) -> Iterator[None]:
    """First Ctrl-C: finish the current matching, checkpoint, stop. Second: stop at once."""

    def handler(signum, frame):
        if tournament.stop_requested:
            raise KeyboardInterrupt
        tournament.stop_requested = True
        print("\ninterrupt: finishing this matching and writing a checkpoint (Ctrl-C again to stop at once)", file=sys.stderr)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
