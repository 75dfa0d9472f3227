"""The environment of the benchmarks' child processes: this checkout first on ``PYTHONPATH``,
then whatever the caller's environment already had there (where packages come through it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child_env(**extra: str) -> dict[str, str]:
    """``os.environ`` with ``PYTHONPATH`` extended (not replaced) by the checkout, plus ``extra``."""
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, **extra, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


def arena_cli(*args: str) -> str:
    """``python -m arena ARGS`` from the checkout, in :func:`child_env`; its stdout, or exit with
    the command and the tail of its stderr where it fails."""
    done = subprocess.run([sys.executable, "-m", "arena", *args], env=child_env(), cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"arena {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout
