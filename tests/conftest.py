"""Shared fixtures: tiny configs that train in a second."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

TINY = {
    "name": "tiny",
    "seed": 0,
    "device": "cpu",
    "data": {"source": "ring8", "train_size": 2000, "test_size": 500},
    "game": {"id": "gan-v0"},
    "agents": [
        {
            "name": "g",
            "role": "generator",
            "latent": {"dist": "normal", "dim": 2},
            "net": {"type": "mlp", "hidden": [32, 32], "norm": "batch"},
            "optim": {"type": "adam", "lr": 1e-3, "betas": [0.5, 0.999]},
        },
        {
            "name": "d",
            "role": "discriminator",
            "net": {"type": "mlp", "hidden": [32, 32], "dropout": 0.1},
            "optim": {"type": "adam", "lr": 1e-3, "betas": [0.5, 0.999]},
        },
    ],
    "schedule": {"matchings": 6, "steps_per_match": 10, "batch_size": 32},
    "eval": {"every": 3, "samples": 200},
    "checkpoint": {"every": 2, "keep_last": 5},
}


def tiny_raw(**changes) -> dict:
    """A copy of the tiny config with top-level sections replaced or updated."""
    raw = copy.deepcopy(TINY)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key].update(value)
        else:
            raw[key] = value
    return raw


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a config mapping (or YAML text) to a file and return its path."""

    def write(raw: dict | str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False))
        return path

    return write
