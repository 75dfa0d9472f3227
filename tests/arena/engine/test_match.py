"""arena/engine/match.py and the loop around it: the classic GAN learns, runs are reproducible,
resume equals an uninterrupted run, and the global random state (dropout) and BatchNorm
statistics travel with checkpoints."""

from __future__ import annotations

import copy
import shutil

import pytest
import torch

import arena
from arena.config import parse_config
from arena.engine.arena import build_arena
from arena.rundir import RunDir
from arena.tournament.callbacks import Callback
from arena.tournament.loop import Tournament
from tests.conftest import assert_same_weights, keep_checkpoints_until, records, sample_metrics, tiny_raw, train, weights


def test_600_rounds_on_ring8_bring_the_generators_samples_onto_the_ring():
    """A behaviour, not a benchmark: 600 rounds of the classic game put most samples within 0.2 of
    the ring of radius 1, where an untrained generator puts none (seeds 0-3 measured 90-97 %)."""
    from agents import draw_samples

    raw = tiny_raw(data={"source": "ring8", "train_size": 5000},
                   schedule={"matchings": 6, "steps_per_match": 100, "batch_size": 64}, review={"every": 6},
                   checkpoint={"every": 6})
    for spec in raw["agents"]:
        spec["net"] = {"type": "mlp", "hidden": [64, 64], "act": "leaky_relu"}
        spec["optim"]["lr"] = 2e-3
    untrained = build_arena(parse_config(raw)).generators[0]
    trained = train(raw).arena.generators[0]
    off_ring = [(draw_samples(g, 2000, 0).norm(dim=1) - 1).abs() for g in (untrained, trained)]
    assert (off_ring[0] < 0.2).float().mean() < 0.05
    assert (off_ring[1] < 0.2).float().mean() > 0.75, float((off_ring[1] < 0.2).float().mean())
    assert off_ring[1].mean() < off_ring[0].mean() / 4


@pytest.mark.slow
def test_ring8_generator_puts_most_samples_near_a_mode():
    """4,000 rounds of the classic game on PacGAN's ring8 (std 0.01) put most of 2,500 samples
    within 3 std of a mode and cover all 8 modes (seeds 0-3 measured 57-69% high quality)."""
    raw = tiny_raw(
        data={"source": "ring8", "train_size": 20000},
        schedule={"matchings": 40, "steps_per_match": 100, "batch_size": 256},
        review={"every": 40},
        checkpoint={"every": 40},
    )
    net = {"type": "mlp", "hidden": [128, 128], "act": "leaky_relu"}
    optim = {"type": "adam", "lr": 1e-3, "betas": [0.5, 0.999], "schedule": {"type": "linear", "steps": 4000, "end_factor": 0.02}}
    raw["agents"][0].update(net=net, optim=optim)
    raw["agents"][1].update(net=net, optim=optim)
    tournament = train(raw)
    metrics = sample_metrics(tournament, n=2500, seed=0)
    assert metrics["high_quality"] > 50.0, metrics
    assert metrics["modes"] == 8, metrics


def test_gaussian1d_discriminator_moves_toward_one_half():
    """The paper's equilibrium: with G trained, D(x) on the data's support approaches 1/2,
    while a D trained as long against a frozen, untrained G stays confident."""
    raw = tiny_raw(
        data={"source": "gaussian1d", "train_size": 20000, "test_size": 2000},
        schedule={"matchings": 6, "steps_per_match": 100, "batch_size": 128},
    )
    raw["agents"][0].update(latent={"dist": "uniform", "dim": 1}, net={"type": "mlp", "hidden": [32, 32]})
    raw["agents"][1].update(net={"type": "mlp", "hidden": [32, 32]})
    tournament = train(raw)
    arena = tournament.arena
    d = arena.discriminators[0].eval()
    with torch.no_grad():
        gap_trained = (torch.sigmoid(d(arena.data.test)) - 0.5).abs().mean().item()

    frozen = build_arena(parse_config(raw))
    g, d2 = frozen.generators[0], frozen.discriminators[0]
    for _ in range(600):
        frozen.game.discriminator_update(g, d2, frozen.stream())
    d2.eval()
    with torch.no_grad():
        gap_frozen_g = (torch.sigmoid(d2(frozen.data.test)) - 0.5).abs().mean().item()
    assert gap_trained < 0.1, gap_trained
    assert gap_frozen_g > 0.3, gap_frozen_g


def test_two_runs_with_one_seed_are_identical(tmp_path):
    a = train(tiny_raw(), tmp_path / "a")
    b = train(tiny_raw(), tmp_path / "b")
    assert_same_weights(weights(a), weights(b))
    assert records(tmp_path / "a") == records(tmp_path / "b")
    c = train(tiny_raw(seed=1))
    assert any(not torch.equal(x, y) for x, y in zip(weights(a).values(), weights(c).values()))


@pytest.mark.parametrize("resume_from", [2, 4])
def test_resume_equals_an_uninterrupted_run(tmp_path, resume_from):
    full = train(tiny_raw(), tmp_path / "full")
    # The interrupted run: the same run directory as it stood at `resume_from` matchings.
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "full", cut)
    keep_checkpoints_until(cut, resume_from)
    opened = arena.api.Run.open(cut)
    assert opened.tournament.completed == resume_from
    resumed = opened.play().tournament
    assert resumed.completed == 6 and resumed.rounds == full.rounds
    assert_same_weights(weights(full), weights(resumed))
    for name, agent in full.arena.agents.items():
        other = resumed.arena.agents[name]
        assert agent.steps == other.steps
        assert torch.equal(agent.rng.get_state(), other.rng.get_state())
    assert records(tmp_path / "full") == records(cut)


class StopAfter(Callback):
    """Asks the loop to stop (as the first Ctrl-C does) once ``n`` matchings are complete."""

    def __init__(self, n: int) -> None:
        self.n = n

    def on_match_end(self, tournament, outcome, rounds_done, rounds_total):
        if tournament.completed + 1 >= self.n:
            tournament.request_stop()


def test_dropout_and_batchnorm_state_survive_resume(tmp_path):
    """A run stopped after matching 3 and resumed in a new arena ends bit-identical to an
    uninterrupted one, BatchNorm running statistics included. It does so only because the
    checkpoint carries the global random state (the discriminator's dropout draws from it) and
    the running statistics: resuming with either replaced ends elsewhere."""
    raw = tiny_raw(checkpoint={"every": 100})
    full = train(raw, tmp_path / "full")
    bn = [k for k in weights(full) if "running_mean" in k or "running_var" in k]
    assert bn, "the tiny generator has BatchNorm"
    stopped = train(raw, tmp_path / "cut", callbacks=[StopAfter(3)])
    assert stopped.completed == 3 and [p.stem for p in RunDir(tmp_path / "cut").checkpoints()] == ["ckpt-00000003"]
    saved = RunDir(tmp_path / "cut").load_checkpoint()
    assert saved["rng"]["cpu"].dtype == torch.uint8 and any("running_mean" in k for k in saved["agents"]["g"]["net"])
    resumed = arena.resume(tmp_path / "cut").tournament
    assert resumed.completed == 6
    assert_same_weights(weights(full), weights(resumed))
    assert records(tmp_path / "full") == records(tmp_path / "cut")

    def continue_with(change) -> dict:
        state = copy.deepcopy(saved)
        tournament = Tournament(build_arena(parse_config(raw)))
        change(state)
        tournament.load_state_dict(state)
        tournament.run()
        return weights(tournament)

    assert_same_weights(continue_with(lambda state: None), weights(full))

    def other_rng(state):
        state["rng"]["cpu"] = torch.Generator().manual_seed(12345).get_state()

    def fresh_statistics(state):
        for key, value in state["agents"]["g"]["net"].items():
            if "running_mean" in key:
                value.zero_()

    end = weights(full)
    with_other_rng = continue_with(other_rng)
    assert any(not torch.equal(end[k], with_other_rng[k]) for k in end if k.startswith("d."))
    with_fresh_stats = continue_with(fresh_statistics)
    assert any(not torch.equal(end[k], with_fresh_stats[k]) for k in bn)
