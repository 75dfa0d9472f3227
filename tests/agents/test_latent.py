"""agents/latent.py: the priors draw what they declare."""

from __future__ import annotations

import math
import re

import pytest
import torch

from agents import latents
from arena.core.errors import ConfigError
from arena.core.registry import build


def test_uniform_stays_in_range_and_matches_its_space():
    prior = build({"dist": "uniform", "dim": 100, "low": -math.sqrt(3), "high": math.sqrt(3)}, latents)
    z = prior.sample(2000, torch.Generator().manual_seed(0), "cpu")
    assert z.shape == (2000, 100) and z.dtype == torch.float32
    assert z.min() >= -math.sqrt(3) and z.max() <= math.sqrt(3)
    assert z.var().item() == pytest.approx(1.0, abs=0.02)  # the paper's [-sqrt 3, sqrt 3] has unit variance
    assert prior.space().contains(z[0].numpy())


def test_normal_moments_and_reproducibility():
    prior = build({"dist": "normal", "dim": 3, "mean": 2.0, "std": 0.5}, latents)
    a = prior.sample(20000, torch.Generator().manual_seed(1), "cpu")
    b = prior.sample(20000, torch.Generator().manual_seed(1), "cpu")
    assert torch.equal(a, b)
    assert a.mean().item() == pytest.approx(2.0, abs=0.01) and a.std().item() == pytest.approx(0.5, abs=0.01)


def test_uniform_needs_high_above_low():
    with pytest.raises(ConfigError, match=re.escape("high: expected high > low, got low=1.0, high=1.0")):
        build({"dist": "uniform", "dim": 2, "low": 1, "high": 1}, latents)


def test_unknown_distribution():
    with pytest.raises(ConfigError, match=re.escape("dist: unknown latent prior 'gauss'")):
        build({"dist": "gauss", "dim": 2}, latents)
