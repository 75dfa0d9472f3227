"""arena/metrics.py: PacGAN's definitions on inputs with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from arena.data import mixture_centers
from arena.metrics import mode_metrics

RING = mixture_centers("ring", modes=8, radius=1.0)


def test_perfect_uniform_coverage():
    samples = RING.repeat(10, 1)
    m = mode_metrics(samples, RING, 0.01)
    assert m == {"modes": 8, "high_quality": 100.0, "reverse_kl": pytest.approx(0.0, abs=1e-12)}


def test_collapse_to_one_mode():
    samples = RING[:1].repeat(100, 1) + 0.005
    m = mode_metrics(samples, RING, 0.01)
    assert m["modes"] == 1 and m["high_quality"] == 100.0
    assert m["reverse_kl"] == pytest.approx(math.log(8))


def test_three_std_threshold_and_percent_high_quality():
    near = RING[:4] + torch.tensor([0.029, 0.0])  # within 3 std of 0.01
    far = RING[4:] + torch.tensor([0.031, 0.0])  # just outside
    m = mode_metrics(torch.cat([near, far]), RING, 0.01)
    assert m["modes"] == 4 and m["high_quality"] == pytest.approx(50.0)
    assert m["reverse_kl"] == pytest.approx(math.log(8) - math.log(4))


def test_reverse_kl_of_a_skewed_histogram():
    counts = [3, 1]
    samples = torch.cat([RING[0:1].repeat(counts[0], 1), RING[1:2].repeat(counts[1], 1)])
    p = torch.tensor(counts, dtype=torch.float64) / 4
    expected = math.log(8) + float((p * p.log()).sum())
    assert mode_metrics(samples, RING, 0.01)["reverse_kl"] == pytest.approx(expected)


def test_no_high_quality_sample():
    m = mode_metrics(torch.zeros(10, 2), RING, 0.01)
    assert m["modes"] == 0 and m["high_quality"] == 0.0 and math.isnan(m["reverse_kl"])
