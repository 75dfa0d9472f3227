"""The redesign's proof: short runs of every shipped config give exactly the numbers recorded
before it (tests/golden.py; `python -m tests.golden NAME` records a new config).

On a platform the numbers were recorded on (torch build, CPU instruction set and model, oneDNN's
cap; one thread), the metrics log (wall-clock fields aside), the result files and the final weights
must be identical: the run is deterministic there, so identity holds by construction. Elsewhere
floats round differently and nothing bounds the drift once a review counts samples (tests/golden.py
says why), so the structure of every record and file is compared, and the values of the training
records before the first review within float32's drift.
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


def same_shape(a, b, path="") -> None:
    """``a`` and ``b`` have the same structure: the same keys and list lengths, and values of the
    same kinds (a number, a string, a flag; null, for a figure undefined on one side, stands for any).
    The values themselves may differ: a name or a message may count samples too."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (path, sorted(a) if isinstance(a, dict) else a, b)
        for k in a:
            same_shape(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            same_shape(x, y, f"{path}[{i}]")
    elif a is not None and b is not None:
        kind = (lambda x: "number" if isinstance(x, (int, float)) and not isinstance(x, bool) else type(x).__name__)
        assert kind(a) == kind(b), (path, a, b)


def before_the_first_review(records: list[dict]) -> list[dict]:
    """The training records that precede the first review's."""
    out = []
    for r in records:
        if r.get("kind") != "train":
            break
        out.append(r)
    return out


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
        a, b = ([json.loads(x) for x in fp["metrics"]] for fp in (now, then))
        same_shape(a, b, "metrics")
        close(before_the_first_review(a), before_the_first_review(b), "metrics")
        for file, text in then["files"].items():
            same_shape(json.loads(now["files"][file]) if now["files"][file] else None, json.loads(text) if text else None, file)
