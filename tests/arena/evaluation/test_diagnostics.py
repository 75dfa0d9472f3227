"""arena/evaluation/diagnostics.py: warnings for collapse and oscillation, on constructed inputs
and in a run's log."""

from __future__ import annotations

import pytest
import torch

from arena.api import Run
from arena.cli.display import event_line
from arena.config import parse_config
from arena.evaluation.diagnostics import Diagnostics, diversity, oscillation
from arena.tournament.callbacks import Callback
from tests.conftest import records, tiny_raw


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


def test_training_writes_quality_and_warnings_to_the_metrics(tmp_path):
    """Every evaluation record carries ``quality`` (on ring8: % high quality), and a diagnostic
    warning reaches metrics.jsonl as a ``warning`` record right after the record that raised it,
    once, and the terminal as a line (thresholds lowered so that the tiny run oscillates)."""
    raw = tiny_raw(schedule={"matchings": 6, "steps_per_match": 10}, review={"every": 2})
    run = Run.create(parse_config(raw), tmp_path / "run")
    run.tournament.diagnostics = Diagnostics(window=3, flips=0.0, swing=0.0)
    shown = []

    class Lines(Callback):
        def on_log(self, tournament, record):
            line = event_line(record)
            if line:
                shown.append(line)

    run.play([Lines()])
    rows = records(tmp_path / "run")
    evals = [r for r in rows if r["kind"] == "eval"]
    assert [r["matching"] for r in evals] == [2, 4, 6]
    assert all(r["quality"] == r["high_quality"] for r in evals)
    warnings = [(i, r) for i, r in enumerate(rows) if r["kind"] == "warning"]
    assert len(warnings) == 1, warnings
    i, warning = warnings[0]
    assert rows[i - 1]["kind"] == "train" and rows[i - 1]["matching"] == warning["matching"] == 3
    assert warning["rounds"] == 30 and warning["message"].startswith("oscillating losses: d's d_loss against g reversed")
    assert f"warning: {warning['message']}" in shown
