"""Storage: the run directory (:class:`RunDir`, the one owner of its file names and formats,
its atomic writes and its lock), checkpoints, the metrics log and directories of seeds. It knows
nothing of the loop: the callbacks that fill a run directory live in :mod:`arena.recording`."""

from arena.rundir.rundir import RunDir

__all__ = ["RunDir"]
