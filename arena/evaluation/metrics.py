"""Sample-quality metrics as pure functions on tensors."""

from __future__ import annotations

import math

import torch

__all__ = ["mode_metrics", "mode_spread", "mode_tv", "within_3_std", "mode_counts", "nearest_centers", "categorical_metrics", "symbol_counts"]


def nearest_centers(samples: torch.Tensor, centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of each sample's nearest centre and the distance to it."""
    dist = torch.cdist(samples.double(), centers.double())
    d, idx = dist.min(dim=1)
    return idx, d


def mode_counts(samples: torch.Tensor, centers: torch.Tensor, std: float) -> torch.Tensor:
    """High-quality samples (within 3 std of their nearest centre) per mode, as float64 counts."""
    idx, dist = nearest_centers(samples.reshape(samples.shape[0], -1), centers)
    good = dist <= 3 * std
    return torch.bincount(idx[good].cpu(), minlength=centers.shape[0]).double()


def symbol_counts(samples: torch.Tensor, k: int) -> torch.Tensor:
    """How often each of ``k`` symbols occurs among one-hot ``samples``, as float64 counts."""
    return torch.bincount(samples.reshape(samples.shape[0], -1).argmax(1).cpu(), minlength=k).double()


def mode_metrics(samples: torch.Tensor, centers: torch.Tensor, std: float) -> dict[str, float]:
    """PacGAN's toy-mixture metrics (REFERENCE.md).

    A sample is high quality when it lies within 3 std of its nearest centre; a mode is covered
    when it is the nearest centre of at least one high-quality sample; the reverse KL is
    ``KL(histogram of nearest centres over high-quality samples || uniform) = log K - H``.

    Returns:
        ``modes`` (covered, out of K), ``high_quality`` (percent of all samples) and
        ``reverse_kl`` (NaN when no sample is of high quality).
    """
    k = centers.shape[0]
    counts = mode_counts(samples, centers, std)
    total = counts.sum().item()
    if total > 0:
        p = counts / total
        entropy = -(p[p > 0] * p[p > 0].log()).sum().item()
        rkl = math.log(k) - entropy
    else:
        rkl = float("nan")
    return {
        "modes": int((counts > 0).sum().item()),
        "high_quality": 100.0 * total / samples.shape[0],
        "reverse_kl": max(rkl, 0.0) if rkl == rkl else rkl,
    }


def mode_spread(samples: torch.Tensor, centers: torch.Tensor, std: float) -> dict[str, float]:
    """How spread the high-quality samples are about their centres, against the data itself.

    The root mean square distance of the high-quality samples to their nearest centre, over the
    same for a Gaussian component of the data (its samples within 3 std, as the metric keeps):
    ``E[r^2 | r <= 3 std] = std^2 d P(d/2 + 1, 9/2) / P(d/2, 9/2)`` in ``d`` dimensions, with
    ``P`` the regularized lower incomplete gamma function. 1: as spread as the data; below 1:
    the modes are contracted (samples pile up near the centres, which % high quality rewards
    and no real generator should do); above 1: blurrier than the data. NaN with no high-quality
    sample.
    """
    flat = samples.reshape(samples.shape[0], -1)
    _, dist = nearest_centers(flat, centers)
    good = dist[dist <= 3 * std]
    if good.numel() == 0:
        return {"spread": float("nan")}
    d = torch.tensor(flat.shape[1] / 2, dtype=torch.float64)
    x = torch.tensor(4.5, dtype=torch.float64)
    expected = std * std * flat.shape[1] * float(torch.special.gammainc(d + 1, x) / torch.special.gammainc(d, x))
    return {"spread": math.sqrt(float((good * good).mean()) / expected)}


def within_3_std(dim: int) -> float:
    """The share of a ``dim``-dimensional Gaussian component within 3 std of its centre,
    ``P(chi^2_dim <= 9)`` (2-D: 1 - e^-4.5 = 0.989)."""
    return float(torch.special.gammainc(torch.tensor(dim / 2, dtype=torch.float64), torch.tensor(4.5, dtype=torch.float64)))


def mode_tv(samples: torch.Tensor, centers: torch.Tensor, std: float) -> dict[str, float]:
    """The total variation between the samples and the data over the data's modes and off them.

    Every sample falls in one of K + 1 bins: the mode whose centre lies within 3 std (a
    high-quality sample, as in :func:`mode_metrics`) or "off every mode"; the data puts
    ``within_3_std(d) / K`` in each mode and the rest off them. ``mode_tv`` is half the L1
    distance between the two histograms: 0 for the data's distribution (n of its own samples read
    about 0.5 * sum_b sqrt(2 p_b (1 - p_b) / (pi n)) from sampling alone: 0.022 on ring8 and 0.040
    on grid25 at n = 2,500),
    ``within_3_std(d)`` (0.989 in 2-D) for samples all off the modes. It grows with blur (mass off
    the modes), missing modes and uneven modes alike, so it ranks generators on one scale where %
    high quality (blind to balance) and reverse KL (which only sees the high-quality samples: a
    blurry generator's few are often spread evenly) disagree.
    """
    flat = samples.reshape(samples.shape[0], -1)
    counts = mode_counts(flat, centers, std)
    n = flat.shape[0]
    inside = within_3_std(flat.shape[1])
    k = centers.shape[0]
    on = (counts / n - inside / k).abs().sum().item()
    off = abs((n - counts.sum().item()) / n - (1 - inside))
    return {"mode_tv": 0.5 * (on + off)}


def gaussian_kde(samples: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Density of 1-D ``samples`` at ``points`` by a Gaussian kernel with Scott's bandwidth."""
    s = samples.flatten().double()
    x = points.flatten().double()
    h = max(float(s.std()) * s.numel() ** (-1 / 5), 1e-6)
    z = (x[:, None] - s[None, :]) / h
    return torch.exp(-0.5 * z * z).mean(1) / (h * math.sqrt(2 * math.pi))


def equilibrium(d_real: torch.Tensor, p_data: torch.Tensor, p_g: torch.Tensor) -> dict[str, float]:
    """The paper's equilibrium check on real points x.

    Args:
        d_real: the discriminator's D(x) (probabilities) on real points.
        p_data: the data density at those points.
        p_g: the generator's density at those points.

    Returns:
        ``d_gap``: mean |D(x) - 1/2| (0 at the global optimum, where p_g = p_data);
        ``d_opt_gap``: mean |D(x) - D*(x)| with the optimal D* = p_data / (p_data + p_g) for this G.
    """
    d = d_real.flatten().double()
    optimum = p_data.double() / (p_data.double() + p_g.double()).clamp_min(1e-300)
    return {"d_gap": float((d - 0.5).abs().mean()), "d_opt_gap": float((d - optimum).abs().mean())}


def categorical_metrics(samples: torch.Tensor, probs: list[float] | torch.Tensor) -> dict[str, float]:
    """Discrete data: how far the histogram of one-hot ``samples`` is from the data's ``probs``.

    Returns:
        ``tv`` (total variation distance, in [0, 1]) and ``symbols`` (symbols drawn at least once).
    """
    p = torch.as_tensor(probs, dtype=torch.float64)
    counts = symbol_counts(samples, p.numel())
    q = counts / counts.sum()
    return {"tv": float(0.5 * (q - p).abs().sum()), "symbols": int((counts > 0).sum())}
