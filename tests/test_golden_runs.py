"""The redesign's proof: short runs of every shipped config give exactly the numbers recorded
before it (tests/golden.py; `python -m tests.golden NAME` records a new config).

On a platform the numbers were recorded on (torch build, CPU instruction set and model; one thread),
the metrics log (wall-clock fields aside), the result files and the final weights must be
identical. Elsewhere floats may round differently, so the numbers are compared within a
tolerance with another platform's record and the weights' checksums are not compared.
"""

from __future__ import annotations

import json
import math

import pytest

from tests import golden

DATA = golden.load()
HERE = golden.runs_here(DATA) or {}
RECORDED = golden.runs_anywhere(DATA)


def close(a, b, path="", rel: float = 1e-3, tiny: float = 1e-4) -> None:
    """``a`` equals ``b`` up to float rounding (nested JSON values): within ``rel`` of each other,
    or ``tiny`` apart."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            close(a[k], b[k], f"{path}.{k}", rel, tiny)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            close(x, y, f"{path}[{i}]", rel, tiny)
    elif isinstance(a, float) and isinstance(b, (int, float)):
        assert math.isclose(a, b, rel_tol=rel, abs_tol=tiny) or (math.isnan(a) and math.isnan(b)), (path, a, b)
    else:
        assert a == b, (path, a, b)


def test_every_shipped_config_has_recorded_numbers():
    assert sorted(RECORDED) == golden.shipped(), "record new configs: python -m tests.golden NAME"


@pytest.mark.parametrize("name", golden.shipped())
def test_a_short_run_gives_the_recorded_numbers(name, shipped_runs):
    _, now = shipped_runs(name)
    then = RECORDED[name]
    if name in HERE:
        for i, (a, b) in enumerate(zip(now["metrics"], then["metrics"])):
            assert a == b, f"metrics.jsonl line {i + 1} differs:\nnow  {a}\nthen {b}"
        assert len(now["metrics"]) == len(then["metrics"])
        for file in then["files"]:
            assert now["files"][file] == then["files"][file], file
        assert now["weights"] == then["weights"], "final weights, buffers or optimizer state differ"
    else:
        rel, tiny = (5e-2, 5e-3) if name in golden.LOOSE else (1e-3, 1e-4)
        close([json.loads(x) for x in now["metrics"]], [json.loads(x) for x in then["metrics"]], "metrics", rel, tiny)
        for file, text in then["files"].items():
            close(json.loads(now["files"][file]) if now["files"][file] else None, json.loads(text) if text else None, file,
                  rel, tiny)
