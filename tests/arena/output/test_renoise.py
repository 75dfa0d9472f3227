"""arena/output/renoise.py and the panel's noise stage: each draw has its neighbourhood's mean and
covariance; after refinement to the logit's peaks the data's own spread (and the place of its
mass) comes back; the stage is recorded, rebuilt and checked in configs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import arena
from agents import draw_samples
from arena.config import parse_config
from arena.core.errors import ArenaError
from arena.output.panel import Panel
from arena.output.renoise import LocalNoise
from arena.output.sampler import PanelSampler, panel_from_state
from tests.conftest import NetJudge, NormalCandidates, run_cli, tiny_pool, tiny_raw


def test_a_draw_has_the_mean_and_covariance_of_its_neighbours_residuals():
    g = torch.Generator().manual_seed(0)
    cov = torch.tensor([[0.04, 0.03], [0.03, 0.09]])
    residuals = torch.tensor([0.5, -0.2]) + torch.randn(400, 2, generator=g) @ torch.linalg.cholesky(cov).T
    noise = LocalNoise(torch.zeros(400, 2), residuals, neighbours=400)
    e = noise(torch.zeros(40000, 2), g)
    assert torch.allclose(e.mean(0), residuals.mean(0), atol=0.005)
    assert torch.allclose(torch.cov(e.T), torch.cov(residuals.T), atol=0.003)
    # one draw per point, from the caller's stream
    assert torch.equal(noise(torch.zeros(5, 2), torch.Generator().manual_seed(3)),
                       noise(torch.zeros(5, 2), torch.Generator().manual_seed(3)))


def test_each_point_gets_the_noise_of_its_own_neighbourhood():
    g = torch.Generator().manual_seed(1)
    refined = torch.cat([-1 + 0.1 * torch.rand(300, 1, generator=g), 1 + 0.1 * torch.rand(300, 1, generator=g)])
    residuals = torch.cat([0.3 + 0.05 * torch.randn(300, 1, generator=g), -0.1 + 0.2 * torch.randn(300, 1, generator=g)])
    noise = LocalNoise(refined, residuals, neighbours=50)
    for at in (-1.0, 1.0):
        mine = residuals[(refined - at).abs().flatten().argsort()[:50]]  # the 50 nearest, by hand
        e = noise(torch.full((40000, 1), at), g) - at
        assert float(e.mean()) == pytest.approx(float(mine.mean()), abs=0.004)
        assert float(e.std()) == pytest.approx(float(mine.std()), rel=0.03)
        assert float(e.mean()) == pytest.approx(0.3 if at < 0 else -0.1, abs=0.06), "only its own side's residuals"


def test_local_noise_checks_its_inputs():
    with pytest.raises(ValueError, match="at least 2"):
        LocalNoise(torch.zeros(10, 1), torch.zeros(10, 1), neighbours=1)
    with pytest.raises(ValueError, match="differ"):
        LocalNoise(torch.zeros(10, 1), torch.zeros(9, 1), neighbours=5)
    assert LocalNoise(torch.zeros(10, 1), torch.zeros(10, 1), neighbours=50).neighbours == 10


class TwoPeaks(nn.Module):
    """A logit with its maxima at -1.2 and 0.9, off the middle of real data at -1 and +1."""

    def forward(self, x):
        return -torch.minimum((x + 1.2) ** 2, (x - 0.9) ** 2).sum(1, keepdim=True)


def test_renoise_restores_the_datas_spread_and_place_after_refinement_contracts_the_modes():
    g = torch.Generator().manual_seed(2)
    real = torch.where(torch.rand(2000, 1, generator=g) < 0.5, -1.0, 1.0) + 0.1 * torch.randn(2000, 1, generator=g)
    panel = Panel([NetJudge(TwoPeaks())], gamma=-50.0, refine_steps=300, refine_lr=0.01)  # accepts every candidate
    panel.calibrate(NormalCandidates().sample(2000, g), real)
    contracted = PanelSampler(NormalCandidates(), panel).sample(4000, torch.Generator().manual_seed(5))
    left = contracted[contracted < 0]
    assert float(left.std()) < 0.01 and float(left.mean()) == pytest.approx(-1.2, abs=0.01), "climbed to the peak"
    with pytest.raises(ArenaError, match="refine_steps"):
        Panel([NetJudge(TwoPeaks())]).add_renoise(real, 50, {})
    panel.add_renoise(real, 50, {"calibration": 2000})
    assert panel.state()["renoise"] == {"calibration": 2000, "neighbours": 50}
    out = PanelSampler(NormalCandidates(), panel).sample(4000, torch.Generator().manual_seed(5))
    assert out.shape == (4000, 1)
    for centre in (-1.0, 1.0):
        side = out[(out - centre).abs() < 0.5]
        assert float(side.mean()) == pytest.approx(centre, abs=0.01)
        assert float(side.std()) == pytest.approx(0.1, rel=0.1)


def test_a_run_with_renoise_records_it_and_samples_the_same(tmp_path):
    raw = tiny_pool(2, 2, schedule={"matchings": 2, "steps_per_match": 10},
                   review={"every": 2}, panel={"enabled": True, "calibration": 400, "refine": {"steps": 5, "lr": 0.05},
                                             "renoise": {"neighbours": 20}})
    arena.run(parse_config(raw), out=tmp_path / "run")
    panel = json.loads((tmp_path / "run" / "mixture.json").read_text())["panel"]
    assert panel["renoise"] == {"calibration": 400, "neighbours": 20}
    a, b, c = (tmp_path / f"{x}.npy" for x in "abc")
    assert run_cli("sample", tmp_path / "run", "--mixture", "-n", 200, "--seed", 1, "-o", a) == 0
    assert run_cli("sample", tmp_path / "run", "--mixture", "-n", 200, "--seed", 1, "-o", b) == 0
    assert np.load(a).shape == (200, 2) and np.array_equal(np.load(a), np.load(b))
    # the stage is rebuilt from the recorded state (the same held-out samples, refined again)
    run = arena.load(tmp_path / "run")
    sampler = run.generator("mixture")
    assert sampler.panel.renoise is not None and sampler.panel.renoise.neighbours == 20
    real = run.arena.data.splits.get("valid", run.arena.data.test)[:400]
    with torch.enable_grad():
        assert torch.equal(sampler.panel.renoise.refined, sampler.panel.refine(real))
    without = {k: v for k, v in panel.items() if k != "renoise"}
    plain = panel_from_state(sampler.base, without, run.arena.agent, run.config.panel, run.arena.data)
    assert not np.array_equal(np.load(a), draw_samples(plain, 200, 1).numpy())


@pytest.mark.parametrize("panel, message", [({"renoise": {"neighbours": 20}}, "refine.steps is 0"),
                                            ({"renoise": {"neighbours": 1}, "refine": {"steps": 5}}, "integer >= 2")])
def test_renoise_is_checked_in_the_config(panel, message):
    with pytest.raises(ArenaError, match=message):
        parse_config(tiny_raw(panel={"enabled": True, **panel}))
