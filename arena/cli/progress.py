"""Small terminal helpers that import nothing heavy: transient progress bars for long steps,
and counting nouns."""

from __future__ import annotations

__all__ = ["Steps", "steps", "count"]



def count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


class Steps:
    """Transient progress bars for long steps (the report, a Parzen estimate, a classifier's
    training), shown from the first report of a step until every step is done; usable as
    ``progress(task, done, total)`` while no other live display runs."""

    def __init__(self, console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                             console=console, transient=True)
        self.tasks: dict[str, int] = {}
        self.live = False

    def __call__(self, task: str, done: int, total: int) -> None:
        if not self.live:
            self.bars.start()
            self.live = True
        if task not in self.tasks:
            self.tasks[task] = self.bars.add_task(task, total=total)
        self.bars.update(self.tasks[task], completed=done, total=total)
        if all(t.finished for t in self.bars.tasks):
            self.close()

    def close(self) -> None:
        if self.live:
            self.bars.stop()
            self.live = False

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def steps(console=None) -> Steps:
    from rich.console import Console

    return Steps(console or Console(stderr=True, log_path=False))
