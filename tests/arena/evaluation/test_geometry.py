"""arena/evaluation/geometry.py: k-NN manifolds, precision and recall, density and coverage, on known sets."""

from __future__ import annotations

import pytest
import torch

from arena.evaluation.geometry import Manifold, density_coverage, precision_recall
from arena.tournament.judgements import judgement_against, manifold


def test_precision_and_recall_on_known_sets():
    g = torch.Generator().manual_seed(0)
    two = torch.cat([torch.randn(500, 2, generator=g) * 0.05 - 1, torch.randn(500, 2, generator=g) * 0.05 + 1])
    same = torch.cat([torch.randn(500, 2, generator=g) * 0.05 - 1, torch.randn(500, 2, generator=g) * 0.05 + 1])
    one = torch.randn(1000, 2, generator=g) * 0.05 - 1  # the mode at +1 dropped, the other sharp
    far = torch.randn(1000, 2, generator=g) * 0.05 + 5
    pr = precision_recall(two, same)
    assert pr["precision"] > 0.95 and pr["recall"] > 0.95
    pr = precision_recall(two, one)
    assert pr["precision"] > 0.95 and pr["recall"] == pytest.approx(0.5, abs=0.03), "a dropped mode halves recall, not precision"
    assert precision_recall(two, far) == {"precision": 0.0, "recall": 0.0}
    assert float(manifold(two, far)) == 1.0 and float(manifold(two, two)) == 0.0
    assert float(manifold(two, one)) == pytest.approx(1 - (1 * 0.5) ** 0.5, abs=0.03)
    # prepared once against the real set, then judging several generated sets: the same scores
    against = judgement_against("manifold", two)
    assert [float(against(x)) for x in (far, two, one)] == [float(manifold(two, x)) for x in (far, two, one)]
    with pytest.raises(ValueError, match="more than 3 points"):
        precision_recall(two, one[:3])


def test_density_and_coverage_by_hand():
    """Ten real points on a line, k = 1 (every ball of radius 1): a generated point at 0.5 lies in
    the balls of 0 and 1; one at 20 in none."""
    real = torch.arange(10.0).unsqueeze(1)
    assert Manifold(real, 1).hits(torch.tensor([[0.5], [20.0]])).tolist() == [1, 1] + [0] * 8
    assert density_coverage(real, torch.tensor([[0.5]]), k=1) == {"density": 2.0, "coverage": 0.2}
    assert density_coverage(real, torch.tensor([[20.0]]), k=1) == {"density": 0.0, "coverage": 0.0}
    assert density_coverage(real, real, k=1)["coverage"] == 1.0, "every ball holds its own centre"


def test_coverage_falls_as_the_modes_are_covered_unevenly():
    """With as many generated samples as real ones, a real sample's k-NN ball holds a Gamma(k)
    share of the data's mass, so with the generator's density ``r`` times the data's it holds no
    generated sample with probability ``(1 + r)^-k``: coverage ``1 - 2^-k`` for ``r = 1`` (k = 5:
    0.969) and, for two modes drawn 3 : 1 instead of 1 : 1 (``r`` = 1.5 and 0.5), ``1 - (2.5^-5 +
    1.5^-5) / 2`` = 0.929. Density stays about 1 either way (every generated sample is on the data)."""
    g = torch.Generator().manual_seed(0)
    blob = lambda c, n: torch.randn(n, 2, generator=g) * 0.05 + c
    real = torch.cat([blob(-1.0, 4000), blob(1.0, 4000)])
    even = density_coverage(real, torch.cat([blob(-1.0, 4000), blob(1.0, 4000)]), k=5)
    tilted = density_coverage(real, torch.cat([blob(-1.0, 6000), blob(1.0, 2000)]), k=5)
    assert even["coverage"] == pytest.approx(1 - 2 ** -5, abs=0.006)
    assert tilted["coverage"] == pytest.approx(1 - (2.5 ** -5 + 1.5 ** -5) / 2, abs=0.008)
    assert even["density"] == pytest.approx(1.0, abs=0.05) and tilted["density"] == pytest.approx(1.0, abs=0.05)
