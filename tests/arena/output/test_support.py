"""The panel's support stage: a refined candidate is accepted only inside the k-NN balls of the
held-out real samples refined alike (improved precision's manifold), so that samples refinement
leaves on a spurious maximum far from real data are rejected; recorded, rebuilt, checked."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import arena
from arena.config import parse_config
from arena.core.errors import ArenaError
from arena.evaluation.geometry import Manifold
from arena.output.panel import Panel
from arena.output.sampler import PanelSampler
from tests.conftest import NetJudge, NormalCandidates, run_cli, tiny_pool, tiny_raw


def test_inside_is_the_union_of_the_k_nearest_neighbour_balls():
    points = torch.tensor([[0.0], [0.1], [1.0], [1.3]])
    # k = 1: each ball reaches its nearest neighbour: radii 0.1, 0.1, 0.3, 0.3
    m = Manifold(points, k=1)
    assert torch.allclose(m.radii, torch.tensor([0.1, 0.1, 0.3, 0.3], dtype=torch.float64))
    inside = m.inside(torch.tensor([[-0.05], [0.5], [0.75], [1.55], [1.65]]))
    assert inside.tolist() == [True, False, True, True, False]
    assert m.share_inside(torch.tensor([[-0.05], [0.5]])) == 0.5


class SpuriousPeak(nn.Module):
    """A logit with maxima at -1 and +1 (where real data is) and a lower, spurious one at 3."""

    def forward(self, x):
        return -torch.minimum(torch.minimum((x + 1) ** 2, (x - 1) ** 2), (x - 3) ** 2 + 0.5).sum(1, keepdim=True)


def test_support_rejects_what_refinement_leaves_where_real_data_never_goes():
    g = torch.Generator().manual_seed(0)
    real = torch.where(torch.rand(2000, 1, generator=g) < 0.5, -1.0, 1.0) + 0.1 * torch.randn(2000, 1, generator=g)
    panel = Panel([NetJudge(SpuriousPeak())], gamma=-50.0, refine_steps=300, refine_lr=0.02)  # accepts every candidate
    refined = panel.calibrate(NormalCandidates(2).sample(2000, g), real)
    before = PanelSampler(NormalCandidates(2), panel).sample(4000, torch.Generator().manual_seed(1))
    # candidates above 2 (P = 0.16 under N(0, 4)) climb to the spurious peak
    assert 0.12 < float(((before - 3).abs() < 0.1).float().mean()) < 0.2
    panel.add_support(real, 3, {"calibration": 2000})
    assert panel.state()["support"] == {"calibration": 2000, "neighbours": 3}
    after = PanelSampler(NormalCandidates(2), panel).sample(4000, torch.Generator().manual_seed(1))
    assert after.shape == (4000, 1)
    assert torch.equal(after, PanelSampler(NormalCandidates(2), panel).sample(4000, torch.Generator().manual_seed(1)))
    assert float(((after - 3).abs() < 0.5).float().sum()) == 0, "nothing at the spurious peak"
    assert float(((after.abs() - 1).abs() < 0.05).float().mean()) == 1.0, "everything at the real peaks"
    # both real modes kept, each with the candidates of its own basin: below 0 for -1, (0, 2.125) for +1
    # (2.125: where (x - 1)^2 = (x - 3)^2 + 0.5), so -1's share is 0.5 / P(x < 2.125) under N(0, 4)
    share = 0.5 / float(torch.special.ndtr(torch.tensor(2.125 / 2)))
    assert float((after < 0).float().mean()) == pytest.approx(share, abs=0.02)
    # the balance that follows weighs its reference by the support too
    panel.add_balance(refined, real, {"seed": 0, "calibration": 2000}, acceptance=1.0)
    at_spurious = (refined - 3).abs().flatten() < 0.1
    assert at_spurious.any() and panel.balance.log_weights[at_spurious].max() < -600


def test_a_run_records_the_support_and_survives_a_panel_that_accepts_too_little(tmp_path, capsys):
    # an untrained generator lies far from the ring's modes: with 3-NN balls the panel accepts
    # almost nothing; the review says so and the run goes on, measuring the mixture unfiltered
    raw = tiny_pool(2, 2, schedule={"matchings": 2, "steps_per_match": 10},
                   review={"every": 2}, panel={"enabled": True, "calibration": 400, "refine": {"steps": 5, "lr": 0.05},
                                             "support": {"neighbours": 3}, "balance": {}, "renoise": {"neighbours": 20}})
    with pytest.warns(UserWarning, match="panel.support rejects every candidate outside"):
        arena.run(parse_config(raw), out=tmp_path / "run")
    record = json.loads((tmp_path / "run" / "mixture.json").read_text())["panel"]
    assert record["support"] == {"calibration": 400, "neighbours": 3}
    assert record["failed"].startswith("the panel accepted") and record["acceptance"] < 0.01
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert not [r for r in rows if r.get("agent") == "output"] and [r for r in rows if r.get("agent") == "mixture"]
    # the stages are rebuilt from the record: one refined reference serves the support and renoise
    run = arena.load(tmp_path / "run")
    rebuilt = run.generator("mixture").panel
    real = run.arena.data.splits.get("valid", run.arena.data.test)[:400]
    with torch.enable_grad():
        refined = rebuilt.refine(real)
    assert rebuilt.support.k == 3 and torch.equal(rebuilt.support.points, refined.double())
    assert torch.equal(rebuilt.renoise.refined, refined)
    # sampling through the panel fails with what to change; unfiltered it works
    capsys.readouterr()
    assert run_cli("sample", tmp_path / "run", "--mixture", "-n", 50, "-o", tmp_path / "a.npy") != 0
    assert "panel.support" in capsys.readouterr().err
    assert run_cli("sample", tmp_path / "run", "--mixture", "--no-panel", "-n", 50, "-o", tmp_path / "b.npy") == 0
    assert np.load(tmp_path / "b.npy").shape == (50, 2)


def test_support_is_checked_in_the_config():
    with pytest.raises(ArenaError, match="smaller"):
        parse_config(tiny_raw(panel={"enabled": True, "calibration": 100, "support": {"neighbours": 100}}))
