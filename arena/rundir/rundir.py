"""Run directories: created fresh for every run, never overwritten."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from arena.config import RunConfig, dump_config
from arena.core.errors import RunDirError

__all__ = ["create_run_dir", "check_run_dir", "CONFIG_FILE", "METRICS_FILE", "SAMPLES_DIR"]

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
SAMPLES_DIR = "samples"


def create_run_dir(config: RunConfig, out: str | Path | None, device: torch.device, root: str | Path = "runs") -> Path:
    """Make the run directory (``out``, or ``runs/<name>-<time>``) and write the resolved config.

    Raises:
        RunDirError: ``out`` exists and is not empty.
    """
    if out is not None:
        path = Path(out)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunDirError(f"{path} already exists and is not empty; choose a new --out, or `arena resume {path}`")
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(root) / f"{config.name}-{stamp}"
        i = 1
        while path.exists():
            path = Path(root) / f"{config.name}-{stamp}-{i}"
            i += 1
    path.mkdir(parents=True, exist_ok=True)
    (path / SAMPLES_DIR).mkdir(exist_ok=True)
    (path / CONFIG_FILE).write_text(dump_config(config))
    info: dict[str, Any] = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": sys.argv,
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "config_source": getattr(getattr(config, "origin", None), "source", None),
    }
    (path / "run.json").write_text(json.dumps(info, indent=1))
    return path


def check_run_dir(path: str | Path) -> Path:
    """A run directory that exists and holds its resolved config."""
    path = Path(path)
    if not (path / CONFIG_FILE).is_file():
        raise RunDirError(f"{path} is not a run directory (no {CONFIG_FILE})")
    return path
