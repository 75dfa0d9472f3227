"""Everything a run writes: the run directory, its checkpoints, its metrics log and pictures."""
