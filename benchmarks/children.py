"""The environment of the benchmarks' child processes: this checkout first on ``PYTHONPATH``,
then whatever the caller's environment already had there (where packages come through it)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child_env(**extra: str) -> dict[str, str]:
    """``os.environ`` with ``PYTHONPATH`` extended (not replaced) by the checkout, plus ``extra``."""
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, **extra, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
