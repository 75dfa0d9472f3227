"""arena/metrics.py: PacGAN's definitions on inputs with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from arena.data.toy import mixture_centers
from arena.evaluation.metrics import mode_metrics, mode_spread, mode_tv

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


def test_equilibrium_at_the_optimum_and_away_from_it():
    from arena.evaluation.metrics import equilibrium

    p = torch.tensor([0.2, 0.5, 1.0])
    at_optimum = equilibrium(torch.full((3,), 0.5), p, p)
    assert at_optimum == {"d_gap": 0.0, "d_opt_gap": 0.0}
    # p_g = 3 p_data: D* = 1/4 everywhere; a D that says 1/2 is 1/4 off the optimum
    off = equilibrium(torch.full((3,), 0.5), p, 3 * p)
    assert off["d_gap"] == 0.0 and off["d_opt_gap"] == pytest.approx(0.25)


def test_kde_matches_a_gaussian_density():
    from arena.evaluation.metrics import gaussian_kde

    samples = torch.randn(20000, generator=torch.Generator().manual_seed(0)) * 0.5 + 4
    density = gaussian_kde(samples, torch.tensor([4.0, 4.5]))
    exact = torch.exp(-0.5 * torch.tensor([0.0, 1.0])) / (0.5 * math.sqrt(2 * math.pi))
    assert torch.allclose(density.float(), exact, rtol=0.05)


def test_parzen_matches_a_direct_computation():
    from arena.evaluation.parzen import parzen_estimate, parzen_log_likelihoods

    g = torch.Generator().manual_seed(0)
    mu, x = torch.rand(50, 6, generator=g), torch.rand(7, 6, generator=g)
    sigma = 0.3
    d2 = torch.cdist(x.double(), mu.double()) ** 2
    direct = torch.logsumexp(-d2 / (2 * sigma**2), 1) - math.log(50) - 6 * math.log(sigma * math.sqrt(2 * math.pi))
    ours = parzen_log_likelihoods(mu, x, [0.1, sigma], batch_size=3)
    assert torch.allclose(ours[1], direct)
    est = parzen_estimate(mu, x, x, sigmas=[0.01, sigma, 5.0])
    assert est["parzen_sigma"] == sigma
    assert est["parzen_ll"] == pytest.approx(float(direct.mean()))
    assert est["parzen_se"] == pytest.approx(float(direct.std() / math.sqrt(7)))


def test_parzen_sigmas_are_the_papers():
    from arena.evaluation.parzen import PAPER_SIGMAS

    assert len(PAPER_SIGMAS) == 10 and PAPER_SIGMAS[0] == pytest.approx(0.1) and PAPER_SIGMAS[-1] == pytest.approx(1.0)


def test_frechet_distance_known_values():
    from arena.evaluation.features import frechet_distance

    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 3, generator=g, dtype=torch.float64)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # N(0, I) vs N(m, 4 I) in 3-D: |m|^2 + 3 (1 + 4 - 2 * 2) = |m|^2 + 3
    b = torch.randn(20000, 3, generator=g, dtype=torch.float64) * 2 + torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    assert frechet_distance(a, b) == pytest.approx(5.0 + 3.0, rel=0.03)


def test_precision_recall_on_disjoint_and_identical_sets():
    from arena.evaluation.geometry import precision_recall

    g = torch.Generator().manual_seed(0)
    real = torch.randn(500, 4, generator=g)
    assert precision_recall(real, real.clone()) == {"precision": 1.0, "recall": 1.0}
    far = real + 100.0
    assert precision_recall(real, far) == {"precision": 0.0, "recall": 0.0}
    # a generator that covers only half of the real data: full precision, about half recall
    half = real[real[:, 0] > 0]
    pr = precision_recall(real, half)
    assert pr["precision"] == 1.0 and 0.4 < pr["recall"] < 0.75


def test_class_coverage():
    from arena.evaluation.features import class_coverage

    assert class_coverage(torch.arange(10).repeat(5), 10) == {"classes_covered": 10, "class_kl": pytest.approx(0.0, abs=1e-12)}
    one = class_coverage(torch.full((40,), 3), 10)
    assert one["classes_covered"] == 1 and one["class_kl"] == pytest.approx(math.log(10))


@pytest.mark.parametrize("dim", [1, 2, 5])
def test_spread_is_one_on_the_data_itself(dim):
    torch.manual_seed(0)
    centers = torch.randn(4, dim) * 10
    samples = centers[torch.randint(0, 4, (200_000,))] + 0.05 * torch.randn(200_000, dim)
    assert mode_spread(samples, centers, 0.05)["spread"] == pytest.approx(1.0, abs=0.005)


def test_spread_measures_a_contraction_and_a_blur():
    torch.manual_seed(1)
    idx = torch.randint(0, 8, (100_000,))
    noise = torch.randn(100_000, 2)
    assert mode_spread(RING[idx] + 0.25 * 0.01 * noise, RING, 0.01)["spread"] == pytest.approx(0.25 / 0.974, rel=0.01)
    # every sample on its centre: nothing spread at all
    assert mode_spread(RING[idx], RING, 0.01)["spread"] == 0.0
    # a blur of 2 std: the kept (within 3 std) samples spread more than the data's
    assert mode_spread(RING[idx] + 0.02 * noise, RING, 0.01)["spread"] > 1.2


def test_spread_is_nan_without_a_high_quality_sample():
    assert math.isnan(mode_spread(torch.full((10, 2), 50.0), RING, 0.01)["spread"])


def test_mode_tv_on_known_histograms():
    """0 on the data itself (up to sampling), 0.989 with every sample off the modes; all on one mode of
    8: half of that mode's excess 1 - 0.989/8, the other 7 modes' 0.989 x 7/8 missing and the
    1.1 % the data puts off its modes; a blur of 2 std: the mass it moves off the modes; modes
    drawn 3 : 1 at the data's sharpness: half the L1 distance of the shares, times 0.989."""
    torch.manual_seed(2)
    idx = torch.randint(0, 8, (200_000,))
    noise = torch.randn(200_000, 2)
    assert mode_tv(RING[idx] + 0.01 * noise, RING, 0.01)["mode_tv"] == pytest.approx(0.0, abs=0.005)
    inside = 1 - math.exp(-4.5)
    assert mode_tv(torch.full((10, 2), 50.0), RING, 0.01)["mode_tv"] == pytest.approx(inside)
    one = RING[0] + 0.01 * noise[:1000].clamp(-1, 1)
    assert mode_tv(one, RING, 0.01)["mode_tv"] == pytest.approx(0.5 * ((1 - inside / 8) + 7 * inside / 8 + (1 - inside)))
    blur = mode_tv(RING[idx] + 0.02 * noise, RING, 0.01)["mode_tv"]
    assert blur == pytest.approx(0.5 * 2 * (inside - (1 - math.exp(-4.5 / 4))), abs=0.005), "the mass a 2-std blur puts off"
    tilted = torch.cat([RING[idx[:150_000] % 2], RING[2 + idx[150_000:] % 6]]) + 0.01 * noise
    # modes 0-1 get 3/8 each, modes 2-7 1/24 each: half of (2 x 2/8 + 6 x 1/12) = 1/2, times 0.989
    assert mode_tv(tilted, RING, 0.01)["mode_tv"] == pytest.approx(0.5 * inside, abs=0.005)


def test_mode_tv_of_the_data_at_2500_samples_is_its_sampling_floor():
    """n samples of the data itself read 0.5 * sum_b sqrt(2 p_b (1 - p_b) / (pi n)) on average (the
    mean absolute deviation of a binomial share, for large n): 0.022 for 8 modes at 2,500, the floor
    a perfect generator's `arena eval` sits on."""
    inside = 1 - math.exp(-4.5)
    shares = [inside / 8] * 8 + [1 - inside]
    floor = 0.5 * sum(math.sqrt(2 * p * (1 - p) / (math.pi * 2500)) for p in shares)
    assert floor == pytest.approx(0.022, abs=0.0005)
    gen = torch.Generator().manual_seed(5)
    reads = []
    for _ in range(200):
        idx = torch.randint(0, 8, (2500,), generator=gen)
        reads.append(mode_tv(RING[idx] + 0.01 * torch.randn(2500, 2, generator=gen), RING, 0.01)["mode_tv"])
    mean = sum(reads) / len(reads)
    assert mean == pytest.approx(floor, rel=0.1)
