"""Samples that a :class:`~arena.output.panel.Panel` accepted, and the panels a run builds.

:class:`PanelSampler` draws candidates of a generator or a mixture until the panel has accepted
exactly ``n``; :func:`calibrated_panel` builds and calibrates the panel a review of the tournament
uses; :func:`panel_from_state` rebuilds the panel a run recorded (``arena sample/eval --mixture``),
with no new calibration.

Every draw comes from the caller's random stream, so ``arena sample --seed S`` is reproducible,
and ``n`` samples are always returned (more candidates are drawn until ``n`` are accepted).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from agents import Discriminator, Sampler
from arena.core.errors import ArenaError
from arena.output.balance import check_dimension
from arena.output.panel import Panel

__all__ = ["PanelExhausted", "PanelSampler", "calibrated_panel", "panel_from_state"]


def _heldout_real(data: Any, n: int, device: torch.device | str) -> torch.Tensor:
    """The first ``n`` held-out real samples that judge the panel: the data's validation split
    where it has one, else its test split."""
    real: torch.Tensor = data.splits.get("valid", data.test)[:n]
    return real.to(device)


class PanelExhausted(ArenaError, RuntimeError):
    """The panel accepted too few candidates to give the samples asked for."""


class PanelSampler:
    """Samples of ``base`` (a generator or a mixture) that the panel accepted: exactly ``n`` per
    :meth:`sample`, drawing as many candidates as it takes (at most ``max_candidates`` times
    ``n``). A :class:`agents.Sampler`."""

    def __init__(self, base: Sampler, panel: Panel, max_candidates: int = 50, chunk: int = 2048) -> None:
        self.base, self.panel = base, panel
        self.name: str = getattr(base, "name", "output")
        self.device = base.device
        self.max_candidates, self.chunk = max_candidates, chunk
        self.drawn = 0
        self.accepted = 0

    def __repr__(self) -> str:
        judges = ", ".join(d.name for d in self.panel.judges)
        return f"PanelSampler({self.base!r}, judges: {judges})"

    @property
    def training(self) -> bool:
        return self.base.training

    def train(self, mode: bool = True) -> PanelSampler:
        self.base.train(mode)
        return self

    def eval(self) -> PanelSampler:
        return self.train(False)

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.drawn if self.drawn else float("nan")

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        kept: list[torch.Tensor] = []
        have = 0
        limit = self.max_candidates * n
        drawn = 0
        while have < n:
            if drawn >= limit:
                self.drawn, self.accepted = self.drawn + drawn, self.accepted + have
                raise PanelExhausted(f"the panel accepted {have} of {drawn} candidates; raise panel.max_candidates or "
                                     f"lower panel.gamma{self.panel.strict_stages()}")
            size = min(self.chunk, max(2 * (n - have), 64))
            with torch.no_grad():
                x = self.base.sample(size, generator)
            with torch.enable_grad():  # refinement needs gradients, also inside a no_grad evaluation
                x = self.panel.refine(x)
            with torch.no_grad():
                p = self.panel.acceptance(x)
            u = torch.rand(p.shape, generator=generator, device=p.device) if generator is not None else torch.rand_like(p)
            chosen = self.panel.finish(x[u < p], generator)
            kept.append(chosen)
            have += chosen.shape[0]
            drawn += size
        self.drawn += drawn
        self.accepted += have
        return torch.cat(kept)[:n].detach()


def calibrated_panel(base: Sampler, judges: Sequence[Discriminator], config: Any, data: Any, seed: int) -> PanelSampler:
    """The panel of ``judges`` over ``base``, calibrated on ``config.calibration`` candidates of
    ``base`` (drawn with ``seed``) against as many held-out real samples (the data's validation
    split where it has one, else its test split)."""
    from agents import draw_samples

    judges = [d for d in judges if d.action_space.shape == (1,) and d.pack == 1]
    if not judges:
        raise ArenaError("the panel judges samples one by one, and every discriminator here emits several logits "
                         "or judges packs; give the run an unpacked discriminator, or turn the panel off")
    panel = Panel(judges, config.gamma or 0.0, config.refine.steps, config.refine.lr, data.low, data.high,
                  config.sharpness, config.refine.to)
    real = _heldout_real(data, config.calibration, base.device)
    refined = panel.calibrate(draw_samples(base, config.calibration, seed), real,
                              config.acceptance if config.gamma is None else None)
    reference = panel.refine_real(real) if config.support or config.renoise else None
    if config.support:
        check_dimension(real, "panel.support")
        panel.add_support(real, config.support.neighbours, {"calibration": config.calibration}, reference)
    if config.balance:
        check_dimension(real)
        panel.add_balance(refined, real, {"seed": seed, "calibration": config.calibration},
                          config.balance.acceptance, config.balance.bandwidth)
    if config.renoise:
        check_dimension(real, "panel.renoise")
        panel.add_renoise(real, config.renoise.neighbours, {"calibration": config.calibration}, reference)
    return PanelSampler(base, panel, config.max_candidates)


def panel_from_state(base: Sampler, state: dict[str, Any], agent: Callable[[str], Any], config: Any,
                     data: Any = None) -> PanelSampler:
    """The panel a run recorded (judges by name, calibration, M) over ``base``, with no new
    calibration; refined samples are kept in ``data``'s range (low, high) as during the run."""
    low, high = (data.low, data.high) if data is not None else (None, None)
    panel = Panel.from_state(state, [agent(name) for name in state["judges"]], low, high)
    if ("support" in state or "renoise" in state) and data is None:
        raise ArenaError("a panel with a support or renoise stage needs the run's data to rebuild it")
    references: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # held-out samples, refined, by how many

    def reference(calibration: int) -> tuple[torch.Tensor, torch.Tensor]:
        if calibration not in references:
            real = _heldout_real(data, calibration, base.device)
            references[calibration] = (real, panel.refine_real(real))
        return references[calibration]

    if "support" in state:  # before the balance, whose reference is weighted by it
        s = state["support"]
        real, refined = reference(s["calibration"])
        panel.add_support(real, s["neighbours"], {"calibration": s["calibration"]}, refined)
    if "balance" in state:  # its reference: the calibration's candidates, drawn and refined again
        from agents import draw_samples

        if data is None:
            raise ArenaError("a panel with a balance stage needs the run's data to rebuild it")
        b = state["balance"]
        refined = panel.refine(draw_samples(base, b["calibration"], b["seed"]))
        panel.add_balance(refined, _heldout_real(data, b["calibration"], base.device),
                          {"seed": b["seed"], "calibration": b["calibration"]},
                          bandwidth=b["bandwidth"], max_log_ratio=b["max_log_ratio"])
    if "renoise" in state:  # its residuals: the same held-out samples, refined again
        r = state["renoise"]
        real, refined = reference(r["calibration"])
        panel.add_renoise(real, r["neighbours"], {"calibration": r["calibration"]}, refined)
    return PanelSampler(base, panel, config.max_candidates)
