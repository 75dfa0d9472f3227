"""arena/diagnostics.py: warnings for collapse and oscillation, on constructed inputs."""

from __future__ import annotations

import json

import pytest
import torch

from arena.evaluation.diagnostics import Diagnostics, diversity, oscillation
from tests.conftest import tiny_raw


def test_oscillation_measures():
    assert oscillation([1.0, 1.0, 1.0, 1.0]) == (0.0, 0.0)
    flips, swing = oscillation([1.0, 2.0, 1.0, 2.0, 1.0])
    assert flips == 1.0 and swing == pytest.approx(1 / 1.4)
    flips, _ = oscillation([1.0, 0.9, 0.8, 0.7, 0.6])
    assert flips == 0.0


def test_oscillating_losses_warn_once_until_they_settle():
    diag = Diagnostics(window=6)
    warnings = [w for i in range(6) for w in diag.on_train("g", "d", 0.2 if i % 2 else 1.4)]
    assert len(warnings) == 1 and warnings[0].startswith("oscillating losses: d's d_loss against g")
    assert diag.on_train("g", "d", 0.2) == []  # still oscillating: no repeat
    for _ in range(6):
        diag.on_train("g", "d", 0.69)
    assert [w for i in range(6) for w in diag.on_train("g", "d", 0.2 if i % 2 else 1.4)], "warns again after settling"


def test_falling_mode_coverage_is_collapse():
    diag = Diagnostics()
    assert diag.on_eval("g", {"modes": 8}) == []
    assert diag.on_eval("g", {"modes": 7}) == []
    assert diag.on_eval("g", {"modes": 5}) == ["mode collapse: g covers 5 modes, down from 8"]
    assert diag.on_eval("g", {"modes": 4}) == []
    assert diag.on_eval("g", {"modes": 8}) == []


def test_image_diversity():
    g = torch.Generator().manual_seed(0)
    real = torch.rand(300, 1, 8, 8, generator=g)
    assert diversity(real[:150], real[150:]) == pytest.approx(1.0, abs=0.05)
    collapsed = real[:1].repeat(300, 1, 1, 1) + 0.01 * torch.rand(300, 1, 8, 8, generator=g)
    assert diversity(collapsed, real) < 0.1
    diag = Diagnostics()
    assert diag.on_eval("g", {"diversity": 0.05})[0].startswith("mode collapse: g's samples are 0.05 as diverse")


def test_training_writes_quality_and_warnings_to_the_metrics(tmp_path, write_config):
    from arena.cli.commands import main

    raw = tiny_raw(schedule={"matchings": 6, "steps_per_match": 10}, eval={"every": 2})
    raw["agents"][1]["optim"]["lr"] = 0.05  # an aggressive discriminator
    out = tmp_path / "run"
    assert main(["run", str(write_config(raw)), "--out", str(out), "--quiet"]) == 0
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if r["kind"] == "eval"]
    assert evals and all("quality" in r for r in evals)
    assert all(r["quality"] == r["high_quality"] for r in evals)
