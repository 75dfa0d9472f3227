"""The discriminator panel's last stage (:mod:`arena.output.panel`): rejection by a kernel estimate
of a density ratio.

**Balance** (optional, for low-dimensional data): a last rejection by a kernel estimate of the
density ratio between held-out real data and the panel's own output, at a bandwidth that
resolves regions rather than detail (Scott's rule on the held-out data by default). The
discriminators judge detail well and the balance of mass between distant modes poorly (each was
trained against one generator, not against the mixture); a kernel estimate at that scale sees
exactly that balance. The output's density is estimated from the calibration's own candidates,
each weighted by the probability that the panel accepts it, so the stage costs no extra draws
to calibrate; it accepts with probability ``min(1, exp(log r(x) - M_b))``, ``M_b`` set at
calibration for a target rate (exact ratio rejection as that rate falls). It needs only the
held-out split and the output's samples, no knowledge of the modes; in high dimension a kernel
density says little, and the stage should stay off.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch

__all__ = ["KernelBalance", "check_dimension", "shift_for_rate"]


def shift_for_rate(rate: Callable[[float], float], target: float, low: float, high: float, steps: int = 60) -> float:
    """The shift in ``[low, high]`` at which ``rate(shift)``, a mean acceptance that falls as the
    shift grows, meets ``target``: the last midpoint of a bisection."""
    shift = 0.5 * (low + high)
    for _ in range(steps):
        shift = 0.5 * (low + high)
        if rate(shift) > target:
            low = shift
        else:
            high = shift
    return shift


class KernelBalance:
    """Rejection by a kernel estimate of ``p_data(x) / p_out(x)``: the last stage of a panel.

    Args:
        real: held-out real samples (the estimate of ``p_data``).
        reference: samples of the distribution to correct (``p_out``), each with a ``weight``
            (the probability that the stages before this one accept it).
        bandwidth: the Gaussian kernel's width, in the data's units; default Scott's rule on
            ``real``, ``sigma * n ** (-1 / (d + 4))`` with ``sigma`` the mean of its per-coordinate
            standard deviations.
        chunk: samples whose kernel sums are computed at once; by default 128 on a CPU (a block of
            128 x the points' count then stays in the caches: 2.7 times as fast as 1,024 with 5,000
            points on one core) and 4,096 elsewhere. A sample's sum reads only its own row.
    """

    def __init__(self, real: torch.Tensor, reference: torch.Tensor, weights: torch.Tensor | None = None,
                 bandwidth: float | None = None, chunk: int | None = None) -> None:
        self.real = real.detach().flatten(1).double()
        self.reference = reference.detach().flatten(1).double().to(self.real.device)
        w = torch.ones(self.reference.shape[0], dtype=torch.float64) if weights is None else weights.detach().double()
        self.log_weights = w.to(self.real.device).clamp_min(1e-300).log()
        n, d = self.real.shape
        self.bandwidth = float(bandwidth) if bandwidth else float(self.real.std(0).mean()) * n ** (-1.0 / (d + 4))
        self.max_log_ratio = 0.0
        self.chunk = chunk or (128 if self.real.device.type == "cpu" else 4096)

    def _log_density(self, x: torch.Tensor, points: torch.Tensor, log_weights: torch.Tensor | None,
                     leave_out: bool) -> torch.Tensor:
        """``log sum_j w_j K(x_i - p_j)`` less ``log sum_j w_j`` (the kernel's constant cancels in the
        ratio); ``leave_out``: ``x`` is ``points`` itself, and each point leaves its own term out."""
        total = torch.logsumexp(log_weights, 0) if log_weights is not None else math.log(points.shape[0])
        out = []
        for start in range(0, x.shape[0], self.chunk):
            block = x[start:start + self.chunk]
            # in place, and the same floats as -d**2 / (2 h**2) (+ log w): x / -c == -x / c in IEEE
            logk = torch.cdist(block, points).square_().div_(-(2 * self.bandwidth ** 2))
            if log_weights is not None:
                logk.add_(log_weights)
            if leave_out:
                rows = torch.arange(block.shape[0], device=x.device)
                logk[rows, rows + start] = -math.inf
            out.append(torch.logsumexp(logk, 1))
        return torch.cat(out) - total

    def log_ratio(self, x: torch.Tensor, _reference: bool = False) -> torch.Tensor:
        """``log p_data(x) - log p_out(x)`` by the two kernel estimates."""
        x = x.detach().flatten(1).double().to(self.real.device)
        return self._log_density(x, self.real, None, False) - self._log_density(x, self.reference, self.log_weights, _reference)

    def calibrate(self, acceptance: float) -> None:
        """Set ``M_b`` so that the reference (weighted) is accepted at mean rate ``acceptance``."""
        r = self.log_ratio(self.reference, _reference=True)
        w = self.log_weights.exp()

        def rate(shift: float) -> float:
            self.max_log_ratio = shift
            return float((w * self.accept_log_ratio(r)).sum() / w.sum())

        self.max_log_ratio = shift_for_rate(rate, acceptance, float(r.min()) - 1.0, float(r.max()))

    def accept_log_ratio(self, r: torch.Tensor) -> torch.Tensor:
        return torch.exp((r - self.max_log_ratio).clamp(max=0.0))

    def acceptance(self, x: torch.Tensor) -> torch.Tensor:
        """The probability of accepting each sample."""
        return self.accept_log_ratio(self.log_ratio(x)).float()


def check_dimension(real: torch.Tensor, stage: str = "panel.balance", most: int = 16) -> None:
    """Warn where a stage that works with neighbourhoods (a kernel density, nearest neighbours) is
    turned on for data of more than ``most`` dimensions, where they say little."""
    dimensions = real.flatten(1).shape[1]
    if dimensions > most:
        warnings.warn(f"{stage} works with neighbourhoods of held-out samples, which say little in {dimensions} "
                      f"dimensions (meant for low-dimensional data, up to about {most}); consider turning it off",
                      RuntimeWarning, stacklevel=3)
