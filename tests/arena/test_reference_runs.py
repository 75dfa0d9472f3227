"""Longer runs of the shipped configs (marked slow: `make test-all`)."""

from __future__ import annotations

import pytest

from agents import draw_samples
from arena.config import load_config
from arena.engine.arena import build_arena
from arena.tournament.loop import Tournament
from tests.conftest import ROOT, sample_metrics


@pytest.mark.slow
def test_pacgan_ring8_config_learns_the_ring():
    """configs/ring8.yaml (PacGAN's architecture) for 8,000 rounds: all modes, most samples of high quality."""
    config = load_config(ROOT / "configs" / "ring8.yaml", ["device=cpu", "schedule.matchings=40", "data.train_size=20000"])
    tournament = Tournament(build_arena(config))
    tournament.run()
    metrics = sample_metrics(tournament, n=2500, seed=0)
    assert metrics["modes"] >= 7 and metrics["high_quality"] > 60.0, metrics


@pytest.mark.slow
def test_digits_config_generates_varied_images():
    """configs/digits.yaml for 1,000 rounds: samples are not all the same image (no total collapse)."""
    config = load_config(ROOT / "configs" / "digits.yaml", ["device=cpu", "schedule.matchings=10"])
    tournament = Tournament(build_arena(config))
    tournament.run()
    samples = draw_samples(tournament.arena.generators[0], 200, seed=0)
    spread = samples.flatten(1).std(0).mean().item()
    real_spread = tournament.arena.data.test.flatten(1).std(0).mean().item()
    assert spread > 0.3 * real_spread, (spread, real_spread)
