"""arena/output/panel.py: calibrated discriminator rejection keeps a known acceptance rate and
turns a generator's mode proportions into the data's without dropping a mode; refinement climbs
the panel's logit; exactly n samples; the panel in a run and on the command line."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import arena
from arena.config import parse_config
from arena.core.errors import ArenaError
from arena.output.balance import KernelBalance
from arena.output.panel import Panel, platt
from arena.output.sampler import PanelSampler, panel_from_state
from tests.conftest import NetJudge, records, run_cli, tiny_pool, tiny_raw


def test_platt_scaling_recovers_a_known_logistic_model():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20000, generator=g) * 2
    y = (torch.rand(20000, generator=g) < torch.sigmoid(1.5 * x - 0.5)).double()
    a, b = platt(x, y)
    assert a == pytest.approx(1.5, abs=0.05) and b == pytest.approx(-0.5, abs=0.05)


def test_platt_scaling_stays_finite_when_the_scores_separate_the_sets():
    """Scores that tell real from generated perfectly send plain maximum likelihood's slope to
    infinity (a panel calibrated so accepted nothing); the smoothed targets keep it finite: with
    N samples a side the fit is the logistic regression onto (N+1)/(N+2) and 1/(N+2), whose
    gradient vanishes at the optimum."""
    x = torch.cat([torch.linspace(1, 2, 500), torch.linspace(-2, -1, 500)]).double()
    t = torch.cat([torch.full((500,), 501 / 502), torch.full((500,), 1 / 502)]).double()
    a, b = platt(x, (t > 0.5).double())
    assert 1 < a < 100 and abs(b) < 1e-4, (a, b)
    p = torch.sigmoid(a * x + b)
    assert abs(float((p - t).sum())) < 1e-6 and abs(float(((p - t) * x).sum())) < 1e-6


class TwoModes:
    """A generator of points near -1 (mode A, probability ``p_a``) and +1 (mode B)."""

    name, device, training = "g", torch.device("cpu"), False

    def __init__(self, p_a: float) -> None:
        self.p_a = p_a

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def sample(self, n, generator=None):
        which = torch.rand(n, generator=generator) < self.p_a
        noise = 0.05 * torch.randn(n, generator=generator)
        return (torch.where(which, -1.0, 1.0) + noise).unsqueeze(1)


class RatioNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        a, b = math.log(0.5 / 0.8), math.log(0.5 / 0.2)
        return torch.where(x < 0, a, b) * self.scale + 0 * x


class RatioJudge(NetJudge):
    """A discriminator at its optimum for data with modes in proportion 1:1 against TwoModes(0.8):
    its logit is log p_data / p_g = log(0.5 / 0.8) on mode A and log(0.5 / 0.2) on mode B."""

    def __init__(self) -> None:
        super().__init__(RatioNet())
        self.scale = self.net.scale


def test_density_ratio_rejection_keeps_its_acceptance_rate_and_every_mode():
    """Acceptance exp(l - M): E_pg[p_data / p_g] / max(p_data / p_g) = 1 / 2.5 = 0.4; the accepted
    samples are half mode A, half mode B, where the generator gave 80 : 20. Nothing is dropped."""
    panel = Panel([RatioJudge()])
    panel.max_logit = math.log(0.5 / 0.2)  # uncalibrated: the judge's logit is exact
    sampler = PanelSampler(TwoModes(0.8), panel)
    x = sampler.sample(20000, torch.Generator().manual_seed(1))
    assert x.shape == (20000, 1), "exactly n samples"
    assert float((x < 0).float().mean()) == pytest.approx(0.5, abs=0.015)
    assert sampler.acceptance_rate == pytest.approx(0.4, abs=0.01)


def test_calibration_learns_the_scale_of_an_overconfident_judge():
    """A judge whose logit is the density ratio times 3 is rescaled by Platt scaling on real data
    (modes 1 : 1) against the candidates, so rejection still lands on 1 : 1."""
    judge = RatioJudge()
    with torch.no_grad():
        judge.scale.fill_(3.0)
    panel = Panel([judge])
    g = torch.Generator().manual_seed(2)
    real = TwoModes(0.5).sample(5000, g)
    panel.calibrate(TwoModes(0.8).sample(5000, g), real)
    assert panel.a == pytest.approx(1 / 3, rel=0.1) and panel.b == pytest.approx(0.0, abs=0.1)
    x = PanelSampler(TwoModes(0.8), panel).sample(20000, g)
    assert float((x < 0).float().mean()) == pytest.approx(0.5, abs=0.03)


def slope_judge(weight: float):
    """A judge whose logit is ``weight * x`` (1-D samples), and its linear layer."""
    slope = nn.Linear(1, 1)
    with torch.no_grad():
        slope.weight.fill_(weight)
        slope.bias.zero_()
    return NetJudge(slope, "s"), slope


def test_gamma_moves_the_acceptance_and_refinement_climbs_the_logit():
    panel = Panel([RatioJudge()], gamma=-2.0)
    panel.max_logit = math.log(0.5 / 0.2)
    lenient = PanelSampler(TwoModes(0.8), panel)
    lenient.sample(5000, torch.Generator().manual_seed(3))
    assert lenient.acceptance_rate > 0.6
    judge, slope = slope_judge(2.0)
    refiner = Panel([judge], refine_steps=3, refine_lr=0.1)
    x = torch.zeros(4, 1)
    assert torch.allclose(refiner.refine(x), torch.full((4, 1), 0.3)), "3 steps of length 0.1 up the gradient"
    with torch.no_grad():
        slope.weight.fill_(-500.0)  # a steep judge: the step's length stays 0.1, its direction follows
    assert torch.allclose(refiner.refine(x), torch.full((4, 1), -0.3))
    assert slope.weight.requires_grad, "the judge's own gradients are left as they were"


def test_a_run_with_the_panel_measures_and_samples_the_filtered_output(tmp_path):
    raw = tiny_pool(2, 2, schedule={"matchings": 4, "steps_per_match": 10},
                   review={"every": 2}, panel={"enabled": True, "calibration": 500})
    arena.run(parse_config(raw), out=tmp_path / "run")
    outputs = [r for r in records(tmp_path / "run") if r["kind"] == "eval" and r["agent"] == "output"]
    assert [r["matching"] for r in outputs] == [2, 4]
    assert all(0 < r["acceptance"] <= 1 and set(r["judges"]) <= {"d0", "d1"} for r in outputs)
    a, b, c = (tmp_path / name for name in ("a.npy", "b.npy", "c.npy"))
    assert run_cli("sample", tmp_path / "run", "--mixture", "-n", 300, "--seed", 1, "-o", a) == 0
    assert run_cli("sample", tmp_path / "run", "--mixture", "-n", 300, "--seed", 1, "-o", b) == 0
    assert run_cli("sample", tmp_path / "run", "--mixture", "-n", 300, "--seed", 1, "--no-panel", "-o", c) == 0
    import numpy as np

    xa, xb, xc = np.load(a), np.load(b), np.load(c)
    assert xa.shape == xc.shape == (300, 2) and np.array_equal(xa, xb) and not np.array_equal(xa, xc)


def test_a_target_acceptance_rate_sets_the_shift():
    g = torch.Generator().manual_seed(5)
    panel = Panel([RatioJudge()])
    panel.calibrate(TwoModes(0.8).sample(5000, g), TwoModes(0.5).sample(5000, g), acceptance=0.7)
    sampler = PanelSampler(TwoModes(0.8), panel)
    x = sampler.sample(10000, g)
    assert sampler.acceptance_rate == pytest.approx(0.7, abs=0.02)
    share = float((x < 0).float().mean())
    assert 0.5 < share < 0.8, "still moved toward the data's 1 : 1, less far than exact rejection"


def test_sharpness_is_the_slope_of_the_acceptance_and_keeps_the_target_rate():
    """``sigmoid(s * F)``, F as hand-computed from the calibrated logit; at one target rate a
    sharper panel takes fewer of the candidates it scores lowest."""
    panel = Panel([RatioJudge()], gamma=0.3, sharpness=3.0)
    panel.a, panel.b, panel.max_logit = 1.0, 0.0, 2.0
    x = torch.tensor([[-1.0], [1.0]])
    score = panel.score(x).double()
    f = (score - 2.0) - torch.log1p(-torch.exp(score - 2.0 - 1e-6)) - 0.3
    assert torch.allclose(panel.acceptance(x).double(), torch.sigmoid(3.0 * f), atol=1e-6)

    g = torch.Generator().manual_seed(6)
    candidates, real = TwoModes(0.8).sample(5000, g), TwoModes(0.5).sample(5000, g)
    lowest = {}
    for s in (1.0, 4.0):
        panel = Panel([RatioJudge()], sharpness=s)
        panel.calibrate(candidates, real, acceptance=0.5)
        p = panel.acceptance(candidates)
        assert float(p.mean()) == pytest.approx(0.5, abs=0.01)
        scores = panel.score(candidates)
        lowest[s] = float(p[scores <= scores.median()].mean())
    assert lowest[4.0] < lowest[1.0]
    assert panel.state()["sharpness"] == 4.0


def test_a_recorded_panel_keeps_refined_samples_in_the_datas_range():
    """The panel rebuilt from a run's record (``arena sample/eval``) clamps refinement to the
    data's range exactly as the calibrated panel did during the run."""
    judge, _ = slope_judge(1.0)
    recorded = Panel([judge], gamma=-50.0, refine_steps=4, refine_lr=0.5, low=-1.5, high=1.5)  # accepts all
    recorded.max_logit = 10.0
    state = recorded.state()
    config = type("PanelConfig", (), {"max_candidates": 50})()
    data = type("Data", (), {"low": -1.5, "high": 1.5})()
    rebuilt = panel_from_state(TwoModes(0.5), state, lambda name: judge, config, data)
    x = rebuilt.sample(400, torch.Generator().manual_seed(0))
    # every sample climbs 2.0 from near -1 or +1: mode A to near +1, mode B to near +3, clamped at 1.5
    at_bound = x == 1.5
    assert float(x.max()) == 1.5 and float(at_bound.float().mean()) == pytest.approx(0.5, abs=0.08)
    assert bool(((x[~at_bound] - 1.0).abs() < 0.25).all())
    unbounded = panel_from_state(TwoModes(0.5), state, lambda name: judge, config)
    assert float(unbounded.sample(400, torch.Generator().manual_seed(0)).max()) > 1.5


def test_kernel_balance_turns_the_outputs_mode_proportions_into_the_datas():
    """The kernel estimate of p_data / p_out on two separated modes is 0.5 / 0.8 on A and 0.5 / 0.2
    on B; exact ratio rejection accepts E_out[ratio] / max ratio = 1 / 2.5 = 0.4 of the output, so
    at that target rate M_b is log 2.5 and the accepted samples are half A, half B."""
    g = torch.Generator().manual_seed(7)
    real, reference = TwoModes(0.5).sample(4000, g), TwoModes(0.8).sample(4000, g)
    balance = KernelBalance(real, reference)
    assert balance.bandwidth == pytest.approx(float(real.std()) * 4000 ** (-1 / 5)), "Scott's rule in 1-D"
    balance.calibrate(0.4)
    assert balance.max_log_ratio == pytest.approx(math.log(2.5), abs=0.08)
    fresh = TwoModes(0.8).sample(20000, g)
    p = balance.acceptance(fresh)
    assert float(p.mean()) == pytest.approx(0.4, abs=0.02)
    kept = fresh[torch.rand(p.shape, generator=g) < p]
    assert float((kept < 0).float().mean()) == pytest.approx(0.5, abs=0.02)


def test_kernel_balance_weighs_its_reference_by_the_earlier_stages_acceptance():
    """A reference drawn 1 : 1 whose mode-A points carry 4 times the weight stands for an output of
    80 : 20, and is corrected exactly as that output would be."""
    g = torch.Generator().manual_seed(8)
    real, reference = TwoModes(0.5).sample(4000, g), TwoModes(0.5).sample(4000, g)
    weights = torch.where(reference[:, 0] < 0, 0.8, 0.2)
    balance = KernelBalance(real, reference, weights)
    balance.calibrate(0.4)
    assert balance.max_log_ratio == pytest.approx(math.log(2.5), abs=0.08)
    p = balance.acceptance(torch.tensor([[-1.0], [1.0]]))
    assert float(p[0]) == pytest.approx(0.25, abs=0.03) and float(p[1]) == pytest.approx(1.0)


def test_a_panel_with_the_balance_evens_out_modes_the_judges_cannot_see():
    """Judges blind to the modes' masses (a constant logit) leave the output at 80 : 20; the balance
    stage brings it to 1 : 1, and the panel rebuilt from its record (``arena sample``) draws its
    reference again and accepts exactly as the calibrated one."""
    judge, slope = slope_judge(0.0)
    g = torch.Generator().manual_seed(9)
    real = TwoModes(0.5).sample(3000, g)
    panel = Panel([judge])
    from agents import draw_samples

    refined = panel.calibrate(draw_samples(TwoModes(0.8), 3000, 11), real, acceptance=0.9)  # as calibrated_panel draws
    plain = PanelSampler(TwoModes(0.8), panel).sample(8000, torch.Generator().manual_seed(1))
    assert float((plain < 0).float().mean()) == pytest.approx(0.8, abs=0.02)
    panel.add_balance(refined, real, {"seed": 11, "calibration": 3000}, acceptance=0.4)
    sampler = PanelSampler(TwoModes(0.8), panel)
    balanced = sampler.sample(8000, torch.Generator().manual_seed(1))
    assert float((balanced < 0).float().mean()) == pytest.approx(0.5, abs=0.02)
    assert sampler.acceptance_rate == pytest.approx(0.9 * 0.4, abs=0.02)

    state = panel.state()
    assert set(state["balance"]) == {"seed", "calibration", "bandwidth", "max_log_ratio"}
    config = type("PanelConfig", (), {"max_candidates": 50})()
    data = type("Data", (), {"low": None, "high": None, "splits": {"valid": real}, "test": real})()
    rebuilt = panel_from_state(TwoModes(0.8), state, lambda name: judge, config, data)
    probe = torch.linspace(-1.2, 1.2, 50).unsqueeze(1)
    assert torch.equal(rebuilt.panel.acceptance(probe), panel.acceptance(probe))
    with pytest.raises(ArenaError, match="needs the run's data"):
        panel_from_state(TwoModes(0.8), state, lambda name: judge, config)


def test_a_run_with_the_balance_records_it_and_samples_through_it(tmp_path):
    raw = tiny_pool(2, 2, schedule={"matchings": 2, "steps_per_match": 10},
                   review={"every": 2}, panel={"enabled": True, "calibration": 400, "balance": {"acceptance": 0.5}})
    arena.run(parse_config(raw), out=tmp_path / "run")
    (output,) = [r for r in records(tmp_path / "run") if r["kind"] == "eval" and r["agent"] == "output"]
    assert 0 < output["acceptance"] < 0.7, "the two stages together accept less than the rejection alone"
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    assert run_cli("sample", tmp_path / "run", "--mixture", "-n", 200, "--seed", 1, "-o", a) == 0
    assert run_cli("sample", tmp_path / "run", "--mixture", "-n", 200, "--seed", 1, "-o", b) == 0
    import numpy as np

    assert np.load(a).shape == (200, 2) and np.array_equal(np.load(a), np.load(b))


class Bowl(nn.Module):
    """A logit that falls with the squared distance from 0: ``-x^2``."""

    def forward(self, x):
        return -(x * x).sum(1, keepdim=True)


def test_refining_to_real_levels_keeps_the_datas_spread_where_the_peak_contracts_it():
    g = torch.Generator().manual_seed(0)
    candidates, real = torch.randn(4000, 1, generator=g), 0.1 * torch.randn(4000, 1, generator=g)
    peak = Panel([NetJudge(Bowl())], refine_steps=800, refine_lr=0.005)
    climbed = peak.refine(candidates)
    assert float(climbed.std()) < 0.01, "every candidate ends within a step of the logit's maximum"
    to_real = Panel([NetJudge(Bowl())], refine_steps=800, refine_lr=0.005, refine_to="real")
    with pytest.raises(ArenaError, match="calibrating"):
        to_real.refine(candidates)
    refined = to_real.calibrate(candidates, real)
    # the refined candidates' logits follow the real data's, so here their spread is the data's
    assert float(refined.std()) == pytest.approx(0.1, rel=0.08)
    assert float(refined.abs().median()) == pytest.approx(float(real.abs().median()), rel=0.08)
    # a candidate's level rises with its starting logit, and the map is the real data's quantiles
    levels = to_real.target_levels(Bowl()(candidates).flatten())
    order = Bowl()(candidates).flatten().argsort()
    assert bool((levels[order].diff() >= 0).all())
    assert float(levels.max()) <= 0.0 and float(levels.min()) == pytest.approx(float(Bowl()(real).min()), rel=1e-4)


def test_candidates_already_as_real_as_the_data_hardly_move():
    g = torch.Generator().manual_seed(1)
    panel = Panel([NetJudge(Bowl())], refine_steps=50, refine_lr=0.01, refine_to="real")
    real = 0.1 * torch.randn(4000, 1, generator=g)
    candidates = 0.1 * torch.randn(4000, 1, generator=g)
    refined = panel.calibrate(candidates, real)
    moved = (refined - candidates).abs().flatten()
    # (each candidate climbs at most to its level, which sampling noise puts a little above or below it)
    assert float(moved.median()) < 0.002 and float((moved > 0.01).float().mean()) < 0.02


def test_a_recorded_panel_refines_to_the_same_real_levels():
    g = torch.Generator().manual_seed(2)
    judge = NetJudge(Bowl())
    panel = Panel([judge], gamma=-50.0, refine_steps=200, refine_lr=0.01, refine_to="real")
    panel.calibrate(torch.randn(2000, 1, generator=g), 0.2 * torch.randn(2000, 1, generator=g))
    state = panel.state()
    assert state["refine_to"] == "real" and len(state["levels"][0]) == Panel.LEVELS
    assert "refine_to" not in Panel([judge]).state(), "a panel that climbs to the peak records what it did before"
    config = type("PanelConfig", (), {"max_candidates": 50})()
    rebuilt = panel_from_state(TwoModes(0.5), state, lambda name: judge, config)
    x = torch.randn(500, 1, generator=g)
    assert torch.equal(rebuilt.panel.refine(x), panel.refine(x))


def test_refine_to_is_checked():
    with pytest.raises(ValueError, match="refine_to"):
        Panel([NetJudge(Bowl())], refine_to="top")
    with pytest.raises(ArenaError, match="panel.refine.to"):
        parse_config(tiny_raw(panel={"enabled": True, "refine": {"to": "top"}}))


def test_a_run_that_refines_to_real_levels_records_them_and_samples_the_same(tmp_path):
    raw = tiny_pool(2, 2, schedule={"matchings": 2, "steps_per_match": 10},
                   review={"every": 2}, panel={"enabled": True, "calibration": 400, "refine": {"steps": 5, "lr": 0.05, "to": "real"}})
    arena.run(parse_config(raw), out=tmp_path / "run")
    import json

    import numpy as np

    panel = json.loads((tmp_path / "run" / "mixture.json").read_text())["panel"]
    assert panel["refine_to"] == "real" and [len(v) for v in panel["levels"]] == [Panel.LEVELS] * 2
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    assert run_cli("sample", tmp_path / "run", "--mixture", "-n", 200, "--seed", 1, "-o", a) == 0
    assert run_cli("sample", tmp_path / "run", "--mixture", "-n", 200, "--seed", 1, "-o", b) == 0
    assert np.load(a).shape == (200, 2) and np.array_equal(np.load(a), np.load(b))
