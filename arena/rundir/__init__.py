"""Everything a run writes: the run directory (:class:`RunDir`, the one owner of its file
names and formats, its atomic writes and its lock), checkpoints, the metrics log, pictures,
and the callbacks that write them during a run."""

from arena.rundir.rundir import RunDir

__all__ = ["RunDir"]
