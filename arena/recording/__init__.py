"""The loop's built-in callbacks, in one place and in one explicit order.

The loop (:class:`arena.tournament.Tournament`) knows nothing of files, terminals or reports: it
calls its callbacks. This package holds the ones that record a run in its directory: the metrics
log, the pictures, the standings files, the checkpoints, TensorBoard and the report. The terminal
display lives with the command line (:mod:`arena.cli.display`) and arrives here as one of the
caller's callbacks. :func:`callbacks` lists them in the order the loop calls them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from arena.recording.pictures import PictureWriter
from arena.recording.writers import CheckpointWriter, MetricsWriter, StandingsWriter
from arena.rundir import RunDir
from arena.tournament.callbacks import Callback

__all__ = ["callbacks", "MetricsWriter", "PictureWriter", "StandingsWriter", "CheckpointWriter"]


def callbacks(run_dir: RunDir | None, config, extra: Iterable[Callback] = (),
              progress: Callable[[str, int, int], None] | None = None) -> Sequence[Callback]:
    """Every callback of a run, in the order the loop calls them.

    1. The metrics log, first: a record is written before anything shows it.
    2. The pictures (``review.pictures``), the standings files and the checkpoints.
    3. TensorBoard (``log.tensorboard``).
    4. ``extra``: the caller's callbacks (the terminal display, a user's).
    5. The report (``log.report``), last: it reads what the others wrote, and when the run ends it
       shows its own progress after the display has closed.

    With no run directory (a process that writes nothing, such as a distributed run's other
    ranks) only ``extra`` is called.
    """
    extra = list(extra)
    if run_dir is None:
        return extra
    out: list[Callback] = [MetricsWriter(run_dir)]
    if config.review.pictures:
        out.append(PictureWriter(run_dir))
    out += [StandingsWriter(run_dir), CheckpointWriter(run_dir)]
    if config.log.tensorboard:
        from arena.recording.tensorboard import TensorBoardWriter

        out.append(TensorBoardWriter(run_dir))
    out += extra
    if config.log.report:
        from arena.recording.report import ReportWriter

        out.append(ReportWriter(run_dir, progress))
    return out
