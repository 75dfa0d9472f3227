"""A panel of discriminators that judges candidate samples after training.

**Rejection** (discriminator rejection sampling, Azadi et al. 2019). For a discriminator near its
optimum, ``D = p_data / (p_data + p_g)``, so its logit is ``log p_data(x) - log p_g(x)``;
accepting a candidate with probability ``exp(logit - M)``, ``M`` the largest logit, turns samples
of ``p_g`` into samples of ``p_data``. Real discriminators are not at their optimum, and a
tournament has several: the panel averages its members' logits and calibrates the average with
a one-dimensional logistic regression (Platt scaling) on held-out real data against the
candidates themselves, so that the calibrated logit estimates ``log p_data - log p_g`` of *these*
samples. A candidate is accepted with probability ``sigmoid(F)``,
``F = l - M - log(1 - exp(l - M - eps)) - gamma``: exactly ``exp(l - M)`` at ``gamma = 0``
(``M`` is fixed when the panel is calibrated; a sample scored above it is always accepted);
a positive ``gamma`` rejects more, a negative one less. ``sharpness`` ``s`` accepts with
``sigmoid(s * F)`` instead: above 1 the acceptance falls more steeply with the logit, so that
at the same acceptance rate the samples the panel scores lowest go first. Where the calibrated
logit is less confident than the true density ratio (small networks judging fine detail), this
sharpens each mode while still taking under-covered regions more often than over-covered ones;
as ``s`` grows it tends to a hard threshold on the logit, which drops modes. Unless ``gamma`` is
given, it is set at calibration so that the candidates are accepted at a target rate (Azadi et
al. likewise shift ``F`` by a percentile of its values: with imperfect discriminators, the
largest logit is an outlier and exact rejection would accept almost nothing). Because the
acceptance follows the density ratio, a mode the generator under-covers is accepted more often than one it
over-covers: rejection of this kind sharpens without dropping modes (a global threshold on the
logit would drop them).

**Refinement** (collaborative sampling, Liu et al. 2020), optional: a few gradient steps on each
candidate that raise the panel's average logit before judging, each of length ``refine_lr`` in the
data's units along ``grad_x logit`` (the raw gradient of a sharp discriminator is hundreds of times
the data's scale; a step proportional to it throws samples off the data). Climbed all the way,
candidates pile up within a step of the logit's maxima: every mode contracts to a point (on grid25,
80 steps of 0.02 left the output's high-quality samples at 0.4 of the data's spread about the
modes, from about 1 unfiltered, which % high quality rewards). ``refine_to="real"`` stops each
candidate at a level of the logit that real data has: at calibration the panel records the
quantiles of the logits of the (unrefined) candidates and of held-out real samples, and a candidate
whose logit starts at the candidates' quantile ``q`` climbs until its logit reaches the real data's
quantile ``q`` (a monotone map of one distribution onto the other, with no random draw). Where the
logit falls with the distance from a mode's centre, the refined output is then about as spread as
the data; on grid25 the discriminators' logits do not (0.6 of the spread, at 82 % high quality).

**Support** (optional, for low-dimensional data): rejects every candidate that lands, after
refinement, outside the k-nearest-neighbour balls of the held-out real samples refined the same
way (the manifold of improved precision, Kynkaanniemi et al. 2019): where real data never
refines to. Climbing a discriminator's logit can end on a ridge or a spurious maximum far from
any mode; on grid25's worst seed such samples were 1 in 10 of the output, up to 15 std from the
nearest refined real sample, and they carried most of its low-quality share.

**Balance** (optional, for low-dimensional data; :mod:`arena.output.balance`): a last rejection by a
kernel estimate of the density ratio between held-out real data and the panel's own output.

**Renoise** (optional, for low-dimensional data; :mod:`arena.output.renoise`): puts back on every
accepted sample the noise the refinement takes from real data: a Gaussian draw fitted to the
residuals ``x - refine(x)`` of the held-out real samples whose refined points lie nearest it. On
grid25 it brought the output's spread from 0.4 of the data's back to 1.0, at 96.7 % high quality
(the tournament, 6 runs; 98.4 % without it, the difference from the contraction).

Drawing from a panel (:class:`~arena.output.sampler.PanelSampler`), and building one for a run or
from its record, live in :mod:`arena.output.sampler`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from agents import Discriminator, evaluating
from arena.core.errors import ArenaError
from arena.evaluation.geometry import Manifold
from arena.output.balance import KernelBalance, shift_for_rate
from arena.output.renoise import LocalNoise

__all__ = ["Panel", "platt"]


def platt(scores: torch.Tensor, labels: torch.Tensor, iterations: int = 100) -> tuple[float, float]:
    """``(a, b)`` of the logistic regression ``P(real) = sigmoid(a * score + b)``.

    Platt's method as Lin, Lin and Weng (2007) made it robust: the 0/1 labels are smoothed to
    ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)``, so that scores that separate the two sets
    perfectly still give a finite slope (plain maximum likelihood sends it to infinity), and
    every Newton step is halved until the loss falls."""
    x = scores.double().flatten()
    y = labels.double().flatten()
    positives = float(y.sum())
    negatives = float(y.numel()) - positives
    t = torch.where(y > 0.5, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss(a: float, b: float) -> float:
        f = a * x + b
        return float((torch.nn.functional.softplus(f) - t * f).sum())  # cross-entropy against t

    a, b = 1.0, 0.0
    current = loss(a, b)
    for _ in range(iterations):
        p = torch.sigmoid(a * x + b)
        w = (p * (1 - p)).clamp_min(1e-12)
        g = torch.stack([((p - t) * x).sum(), (p - t).sum()])
        h = torch.stack([torch.stack([(w * x * x).sum(), (w * x).sum()]), torch.stack([(w * x).sum(), w.sum()])])
        h = h + 1e-9 * torch.eye(2, dtype=h.dtype)
        step = torch.linalg.solve(h, g)
        size = 1.0
        while size > 1e-10:
            new_a, new_b = a - size * float(step[0]), b - size * float(step[1])
            new = loss(new_a, new_b)
            if new <= current - 1e-4 * size * float(g @ step):  # Armijo's sufficient decrease
                break
            size /= 2
        else:
            break
        a, b, current = new_a, new_b, new
        if float((size * step).abs().max()) < 1e-10:
            break
    return a, b


class Panel:
    """Discriminators that judge samples together.

    Args:
        judges: the panel's discriminators (one logit each).
        gamma: the rejection's shift (0: exact density-ratio rejection).
        sharpness: the slope ``s`` of the acceptance ``sigmoid(s * F)`` (1: Azadi et al.'s).
        refine_steps: gradient steps of refinement before judging (0: none).
        refine_lr: the length of each step, in the data's units.
        low, high: the data's range (refined samples are kept in it).
        refine_to: ``peak`` (every step) or ``real`` (until the logit reaches its real-data level,
            fixed at calibration).
    """

    LEVELS = 257
    """Quantiles kept of each logit distribution for ``refine_to="real"``."""

    def __init__(self, judges: Sequence[Discriminator], gamma: float = 0.0, refine_steps: int = 0,
                 refine_lr: float = 0.01, low: float | None = None, high: float | None = None,
                 sharpness: float = 1.0, refine_to: str = "peak") -> None:
        if not judges:
            raise ValueError("a panel needs at least one discriminator")
        if refine_to not in ("peak", "real"):
            raise ValueError(f"refine_to: expected 'peak' or 'real', got {refine_to!r}")
        self.refine_to = refine_to
        self.levels: tuple[torch.Tensor, torch.Tensor] | None = None  # (candidates', real data's) logit quantiles
        self.judges = list(judges)
        self.gamma, self.refine_steps, self.refine_lr = gamma, refine_steps, refine_lr
        self.sharpness = sharpness
        self.low, self.high = low, high
        self.a, self.b, self.max_logit = 1.0, 0.0, 0.0
        self.calibrated = False
        self.balance: KernelBalance | None = None  # a last stage, set by add_balance()
        self.balance_origin: dict[str, Any] = {}  # how its reference was drawn (seed, calibration)
        self.support: Manifold | None = None  # the refined real data's k-NN balls, set by add_support()
        self.support_origin: dict[str, Any] = {}  # how many held-out samples the balls are drawn around
        self.renoise: LocalNoise | None = None  # the noise stage, set by add_renoise()
        self.renoise_origin: dict[str, Any] = {}  # how many held-out samples its residuals came from

    @classmethod
    def from_state(cls, state: dict[str, Any], judges: Sequence[Discriminator], low: float | None = None,
                   high: float | None = None) -> Panel:
        """The calibrated panel a run recorded (:meth:`state`) over ``judges``, with no new
        calibration; its stages (support, balance, renoise) are added by their ``add_*`` methods,
        which need the data (:func:`arena.output.sampler.panel_from_state`)."""
        panel = cls(judges, state["gamma"], state["refine_steps"], state["refine_lr"], low, high,
                    sharpness=state.get("sharpness", 1.0),  # runs recorded before it had no sharpness
                    refine_to=state.get("refine_to", "peak"))
        if state.get("levels") is not None:
            panel.levels = tuple(torch.tensor(v, dtype=torch.float32) for v in state["levels"])  # type: ignore[assignment]
        panel.a, panel.b, panel.max_logit, panel.calibrated = state["a"], state["b"], state["max_logit"], True
        return panel

    def logit(self, x: torch.Tensor) -> torch.Tensor:
        """The panel's average logit of being real (no gradient through the judges' weights)."""
        with evaluating(*self.judges):
            return torch.stack([d(x).reshape(x.shape[0], -1)[:, 0] for d in self.judges]).mean(0)

    def refine(self, x: torch.Tensor) -> torch.Tensor:
        """``refine_steps`` gradient steps on every sample up the panel's average logit (with
        ``refine_to="real"``, each sample stops at its real-data level)."""
        if self.refine_steps == 0:
            return x
        target = None
        if self.refine_to == "real":
            if self.levels is None:
                raise ArenaError("a panel that refines to real levels needs calibrating first")
            with torch.no_grad():
                target = self.target_levels(self.logit(x))
        x = x.detach().clone()
        params = [p for d in self.judges for p in d.net.parameters()]
        needed = [p.requires_grad for p in params]
        for p in params:
            p.requires_grad_(False)
        try:
            for _ in range(self.refine_steps):
                x.requires_grad_(True)
                logit = self.logit(x)
                (grad,) = torch.autograd.grad(logit.sum(), x)
                shape = (-1, *[1] * (x.dim() - 1))
                norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(shape)
                if target is None:
                    x = (x + self.refine_lr * grad / norm).detach()
                else:  # only the candidates below their level climb, at most to it (to first order)
                    gap = (target - logit.detach()).clamp_min(0.0)
                    length = (gap / norm.flatten()).clamp(max=self.refine_lr).view(shape)
                    x = (x + length * grad / norm).detach()
                x = self._in_range(x)
        finally:
            for p, need in zip(params, needed):
                p.requires_grad_(need)
        return x

    @torch.no_grad()
    def target_levels(self, logits: torch.Tensor) -> torch.Tensor:
        """The real-data level each candidate climbs to: its logit's quantile among the
        calibration's candidates, mapped to the same quantile of the real data's logits."""
        assert self.levels is not None
        start, real = (t.to(logits.device) for t in self.levels)
        q = torch.linspace(0, 1, start.numel(), dtype=torch.float64, device=logits.device)
        return _interp(_interp(logits.double(), start.double(), q), q, real.double()).to(logits.dtype)

    @torch.no_grad()
    def score(self, x: torch.Tensor) -> torch.Tensor:
        """The calibrated logit ``a * logit + b`` of every sample."""
        return self.a * self.logit(x) + self.b

    def calibrate(self, candidates: torch.Tensor, real: torch.Tensor, acceptance: float | None = None) -> torch.Tensor:
        """Fit the calibration on held-out ``real`` data against (refined) ``candidates``, take ``M``
        as the largest calibrated logit of the candidates and, with ``acceptance``, choose ``gamma``
        so that the candidates are accepted at that mean rate. Returns the refined candidates."""
        if self.refine_to == "real" and self.refine_steps > 0:
            q = torch.linspace(0, 1, self.LEVELS, dtype=torch.float64)
            with torch.no_grad():
                self.levels = tuple(torch.quantile(self.logit(v).double().cpu(), q).float()  # type: ignore[assignment]
                                    for v in (candidates, real))
        candidates = self.refine(candidates)
        with torch.no_grad():
            fake = self.logit(candidates)
            s = torch.cat([self.logit(real), fake])
        labels = torch.cat([torch.ones(real.shape[0]), torch.zeros(candidates.shape[0])]).to(s.device)
        self.a, self.b = platt(s.cpu(), labels.cpu())
        scores = self.a * fake + self.b  # the candidates' calibrated logits, judged once
        self.max_logit = float(scores.max())
        self.calibrated = True
        if acceptance is not None:
            def rate(gamma: float) -> float:
                self.gamma = gamma
                return float(self._accept(scores).mean())

            self.gamma = shift_for_rate(rate, acceptance, -60.0, 60.0)
        return candidates

    def refine_real(self, real: torch.Tensor) -> torch.Tensor:
        """Held-out ``real`` samples refined exactly as the candidates are (the support's and the
        noise stage's reference), also inside a no_grad evaluation."""
        with torch.enable_grad():
            return self.refine(real)

    def add_support(self, real: torch.Tensor, neighbours: int, origin: dict[str, Any],
                    refined: torch.Tensor | None = None) -> None:
        """Add the support test: a candidate is accepted only inside the ``neighbours``-NN ball of at
        least one of the held-out ``real`` samples after refinement (``refined``, where the caller
        has refined them already). ``origin`` (how many held-out samples) is recorded."""
        self.support = Manifold(self.refine_real(real) if refined is None else refined, neighbours)
        self.support_origin = dict(origin)

    def add_balance(self, refined: torch.Tensor, real: torch.Tensor, origin: dict[str, Any],
                    acceptance: float | None = None, bandwidth: float | None = None,
                    max_log_ratio: float | None = None) -> None:
        """Add the kernel balance as a last stage: the output's density estimated from the
        calibration's ``refined`` candidates, each weighted by the acceptance of the stages before
        it (the rejection's, inside the support); its ``M_b`` set for a mean rate ``acceptance`` of
        the output, or given. ``origin`` (the seed and size of the calibration's draw) is recorded
        so that the reference can be drawn again."""
        self.balance = KernelBalance(real, refined, self._screen(refined), bandwidth)
        self.balance_origin = dict(origin)
        if max_log_ratio is not None:
            self.balance.max_log_ratio = max_log_ratio
        else:
            self.balance.calibrate(acceptance if acceptance is not None else 1.0)

    def add_renoise(self, real: torch.Tensor, neighbours: int, origin: dict[str, Any],
                    refined: torch.Tensor | None = None) -> None:
        """Add the noise stage: ``real`` (held-out samples) refined as the candidates are (``refined``,
        where the caller has refined them already), and their residuals, each output sample's noise
        fitted to its ``neighbours`` nearest. ``origin`` (how many held-out samples) is recorded so
        that the stage can be built again."""
        if self.refine_steps == 0:
            raise ArenaError("panel.renoise puts back the noise that refinement takes away; it needs refine_steps > 0")
        refined = self.refine_real(real) if refined is None else refined
        self.renoise = LocalNoise(refined, real - refined, neighbours)
        self.renoise_origin = dict(origin)

    def finish(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Accepted samples as the panel returns them: with the noise stage's draw where there is one
        (kept in the data's range)."""
        if self.renoise is None or x.shape[0] == 0:
            return x
        return self._in_range(self.renoise(x, generator))

    def strict_stages(self) -> str:
        """What else rejects candidates, for an error that says too few were accepted."""
        hints = []
        if self.support is not None:
            hints.append(f"panel.support rejects every candidate outside the held-out data's {self.support.k}-NN balls "
                         f"after refinement (a larger support widens them; 0 turns it off)")
        if self.balance is not None:
            hints.append("panel.balance_acceptance lowers the balance's rate")
        return "; " + "; ".join(hints) if hints else ""

    def _in_range(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` kept in the data's range, where the panel knows it."""
        return x.clamp(self.low, self.high) if self.low is not None and self.high is not None else x

    def acceptance(self, x: torch.Tensor) -> torch.Tensor:
        """The probability of accepting each (refined) sample: the rejection's, times 0 outside the
        support where there is one, times the balance's where there is one (stages each with their
        own draw accept with the product)."""
        p = self._screen(x)
        return p * self.balance.acceptance(x).to(p.device) if self.balance is not None else p

    def _screen(self, x: torch.Tensor) -> torch.Tensor:
        """The acceptance of the stages before the balance: the rejection's, inside the support."""
        p = self._accept(self.score(x))
        return p * self.support.inside(x).to(p.device, p.dtype) if self.support is not None else p

    def _accept(self, scores: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
        """The probability of accepting samples with these calibrated logits."""
        # M is fixed at calibration (so that a seed gives the same samples every time); a sample
        # scored above it is accepted for sure
        gap = (scores - self.max_logit).double().clamp(max=0.0)
        f = gap - torch.log1p(-torch.exp(gap - eps)) - self.gamma
        return torch.sigmoid(self.sharpness * f).float()

    def state(self) -> dict[str, Any]:
        state = {"judges": [d.name for d in self.judges], "a": self.a, "b": self.b, "max_logit": self.max_logit,
                 "gamma": self.gamma, "sharpness": self.sharpness, "refine_steps": self.refine_steps,
                 "refine_lr": self.refine_lr}
        if self.refine_to != "peak":  # (runs that climb to the peak record no more than before)
            state["refine_to"] = self.refine_to
            state["levels"] = [t.tolist() for t in self.levels] if self.levels is not None else None
        if self.support is not None:
            state["support"] = {**self.support_origin, "neighbours": self.support.k}
        if self.balance is not None:  # with how to draw its reference again (panel_from_state)
            state["balance"] = {**self.balance_origin, "bandwidth": self.balance.bandwidth,
                                "max_log_ratio": self.balance.max_log_ratio}
        if self.renoise is not None:
            state["renoise"] = {**self.renoise_origin, "neighbours": self.renoise.neighbours}
        return state


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation of ``fp`` over increasing ``xp`` at ``x`` (clamped at the ends;
    ties in ``xp`` take the first of their values)."""
    i = torch.searchsorted(xp, x).clamp(1, xp.numel() - 1)
    x0, x1, f0, f1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
    w = ((x - x0) / (x1 - x0).clamp_min(1e-12)).clamp(0.0, 1.0)
    return f0 + w * (f1 - f0)
