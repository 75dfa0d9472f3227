"""games/: the registry, the classic losses, the frozen side, the checker over every game."""

from __future__ import annotations

import math
import re

import pytest
import torch

import games
from arena.core.errors import ConfigError, UnknownId
from games.base import mode_seeking_penalty
from games.checker import tiny_pair, tiny_team


@pytest.mark.parametrize("game_id", games.registry.ids())
def test_every_registered_game_passes_check_game(game_id):
    games.check_game(games.make(game_id))


def test_required_games_are_registered():
    assert {"minimax-v0", "gan-v0", "wgan-gp-v0", "hinge-v0", "lsgan-v0"} <= set(games.registry.ids())


def test_unknown_id_names_the_closest():
    with pytest.raises(UnknownId, match=re.escape("unknown game 'gan-v1'; did you mean 'gan-v0'")):
        games.make("gan-v1")


def test_unknown_keyword_is_rejected_with_a_suggestion():
    with pytest.raises(ConfigError, match=re.escape("d_step: unknown key 'd_step' for game 'gan-v0'; did you mean 'd_steps'?")):
        games.make("gan-v0", d_step=2)


def test_bad_d_steps_is_rejected():
    with pytest.raises(ConfigError, match=re.escape("d_steps: expected a positive integer, got 0")):
        games.make("gan-v0", d_steps=0)


def test_register_checks_versioned_ids_and_duplicates():
    with pytest.raises(ValueError, match="name-v0"):
        games.register("nover", games.NonSaturatingGame)
    with pytest.raises(ValueError, match="already registered"):
        games.register("gan-v0", games.NonSaturatingGame)


def test_register_and_make_a_user_game():
    class Doubled(games.NonSaturatingGame):
        pass

    games.register("test-doubled-v0", Doubled, d_steps=2)
    try:
        game = games.make("test-doubled-v0")
        assert isinstance(game, Doubled) and game.d_steps == 2 and game.id == "test-doubled-v0"
        assert games.make("test-doubled-v0", d_steps=3).d_steps == 3
    finally:
        games.registry._entries.pop("test-doubled-v0")


def test_losses_at_known_logits():
    zero = torch.zeros(4, 1)
    log2 = math.log(2)
    assert games.make("minimax-v0").d_loss(zero, zero).item() == pytest.approx(2 * log2)
    assert games.make("minimax-v0").g_loss(zero).item() == pytest.approx(-log2)  # log(1 - 1/2)
    assert games.make("gan-v0").g_loss(zero).item() == pytest.approx(log2)  # -log(1/2)
    assert games.make("hinge-v0").d_loss(zero, zero).item() == pytest.approx(2.0)
    assert games.make("lsgan-v0").d_loss(torch.ones(4, 1), zero).item() == pytest.approx(0.0)
    assert games.make("lsgan-v0").g_loss(zero).item() == pytest.approx(0.5)
    real, fake = torch.full((4, 1), 3.0), torch.full((4, 1), -1.0)
    assert games.make("wgan-gp-v0").d_loss(real, fake).item() == pytest.approx(-4.0)


def test_minimax_saturates_and_non_saturating_does_not():
    """When D confidently rejects G's samples, log(1 - D) gives G almost no gradient; -log D does."""
    logits = torch.full((8, 1), -8.0, requires_grad=True)
    (g_sat,) = torch.autograd.grad(games.make("minimax-v0").g_loss(logits), logits)
    (g_ns,) = torch.autograd.grad(games.make("gan-v0").g_loss(logits), logits)
    assert g_sat.abs().max() < 1e-3 < g_ns.abs().min()


def test_losses_are_stable_at_extreme_logits():
    big = torch.full((4, 1), 1e4)
    for game_id in ("minimax-v0", "gan-v0"):
        game = games.make(game_id)
        assert torch.isfinite(game.d_loss(big, -big)) and torch.isfinite(game.g_loss(-big))


@pytest.mark.parametrize("game_id", ["gan-v0", "wgan-gp-v0"])
def test_discriminator_stays_frozen_during_generator_update(game_id):
    game = games.make(game_id)
    g, d = tiny_pair(seed=3)
    d_before = [p.clone() for p in d.net.parameters()]
    d_state = {k: v.clone() for k, v in d.optimizer.optimizer.state_dict()["state"].items()}
    g_before = [p.clone() for p in g.net.parameters()]
    game.generator_update(g, d, 16)
    assert all(torch.equal(a, b) for a, b in zip(d_before, d.net.parameters()))
    assert all(p.grad is None for p in d.net.parameters())
    assert d.steps == 0 and d.optimizer.optimizer.state_dict()["state"] == d_state
    assert all(p.requires_grad for p in d.net.parameters()), "requires_grad must be restored"
    assert any(not torch.equal(a, b) for a, b in zip(g_before, g.net.parameters()))


def test_generator_samples_are_detached_in_discriminator_update():
    game = games.make("gan-v0")
    g, d = tiny_pair(seed=4)
    g_before = [p.clone() for p in g.net.parameters()]
    game.discriminator_update(g, d, torch.randn(16, 2))
    assert all(p.grad is None for p in g.net.parameters())
    assert all(torch.equal(a, b) for a, b in zip(g_before, g.net.parameters()))
    assert g.steps == 0 and d.steps == 1


def test_round_does_d_steps_discriminator_updates_then_one_generator_update():
    game = games.make("gan-v0", d_steps=3)
    g, d = tiny_pair(seed=5)
    calls = []
    game.play_round([g], [d], lambda: calls.append(1) or torch.randn(8, 2))
    assert len(calls) == 3 and d.steps == 3 and g.steps == 1


def test_judge_is_balanced_accuracy():
    game = games.make("gan-v0")
    real = torch.tensor([[1.0], [1.0], [-1.0], [-1.0]])  # half right
    fake = torch.tensor([[-1.0], [-1.0], [-1.0], [-1.0]])  # all right
    assert game.score(real, fake).item() == pytest.approx(0.75)


def test_the_mode_seeking_penalty_at_known_samples():
    alike = torch.ones(8, 3)
    assert mode_seeking_penalty(alike).item() == pytest.approx(-math.log(1e-8), rel=1e-4)
    halves = torch.cat([torch.zeros(4, 3), torch.full((4, 3), 0.25)])  # every pair 0.25 apart
    assert mode_seeking_penalty(halves).item() == pytest.approx(-math.log(0.25), rel=1e-6)
    odd = torch.cat([halves, torch.full((1, 3), 9.0)])  # an odd sample out has no partner
    assert mode_seeking_penalty(odd).item() == pytest.approx(-math.log(0.25), rel=1e-6)
    assert mode_seeking_penalty(torch.ones(1, 3)).item() == 0.0  # one sample: nothing to compare
    checkers = torch.zeros(2, 1, 4, 4)
    checkers[0, 0, ::2, ::2] = checkers[0, 0, 1::2, 1::2] = 1.0  # a checkerboard against a blank
    assert mode_seeking_penalty(checkers).item() == pytest.approx(-math.log(0.5), rel=1e-6)
    assert mode_seeking_penalty(checkers, pool=2).item() == pytest.approx(-math.log(0.5), rel=1e-6)
    checkers[1] = 1.0 - checkers[0]  # the same shape shifted by a pixel: alike once pooled
    assert mode_seeking_penalty(checkers).item() == pytest.approx(0.0, abs=1e-6)
    assert mode_seeking_penalty(checkers, pool=2).item() == pytest.approx(-math.log(1e-8), rel=1e-4)


def test_mode_seeking_adds_its_weighted_penalty_to_the_generators_loss():
    g, d = tiny_pair(seed=6)
    d.net.eval()  # no dropout: the same logits for both calls
    fake = g.sample(16).detach()
    plain, _ = games.make("gan-v0").generator_loss(d, fake)
    seeking, _ = games.make("gan-v0", mode_seeking=0.5).generator_loss(d, fake)
    assert seeking.item() == pytest.approx(plain.item() + 0.5 * mode_seeking_penalty(fake).item(), rel=1e-6)
    assert games.make("wgan-gp-v0", mode_seeking=0.5).mode_seeking == 0.5
    with pytest.raises(ConfigError, match="mode_seeking"):
        games.make("gan-v0", mode_seeking=-1.0)


@pytest.mark.parametrize(("game_id", "options"), [("madgan-v0", {}), ("gman-v0", {"mean": "geometric"}),
                                                 ("gman-v0", {"mean": "softmax", "lam": 2.0})],
                         ids=["madgan", "gman-geometric", "gman-softmax"])
def test_multi_player_games_add_the_mode_seeking_term_for_each_generator(game_id, options):
    """MAD-GAN's generators learn together against one discriminator: each pays the term on its
    own batch, so the round's mean generator loss grows by the weighted mean of their penalties.
    GMAN's one generator pays it once, after the mean of its losses against every discriminator
    (inside, a geometric or harmonic mean of a negative term would be meaningless)."""
    def team(game):
        gens, discs = tiny_team(game, seed=8)
        for agent in [*gens, *discs]:
            agent.net.eval()  # no dropout, BatchNorm by its running statistics: the same samples twice
        return gens, discs

    def round_loss(weight: float) -> tuple[float, float]:
        game = games.make(game_id, mode_seeking=weight, **options)
        penalties = [mode_seeking_penalty(g.sample(16)).item() for g in team(game)[0]]
        return game.update_generators(*team(game), 16)["g_loss"].item(), sum(penalties) / len(penalties)

    plain, _ = round_loss(0.0)
    seeking, penalty = round_loss(0.5)
    assert seeking == pytest.approx(plain + 0.5 * penalty, rel=1e-5)


def test_mode_seeking_spreads_a_generator_whose_samples_are_alike():
    """Against a discriminator that calls everything alike (zero weights: no gradient from the
    game's own loss), only the penalty moves the generator: its samples spread apart."""
    g, d = tiny_pair(seed=7)
    with torch.no_grad():
        for p in d.net.parameters():
            p.zero_()
        g.net.body[4].weight.mul_(1e-3)  # a generator that draws nearly one point
    game = games.make("gan-v0", mode_seeking=1.0)

    def spread() -> float:
        with torch.no_grad():
            return float(torch.pdist(g.sample(256)).mean())

    before = spread()
    for _ in range(50):
        game.generator_update(g, d, 64)
    assert spread() > 10 * before


# ----------------------------------------------------------------------------- shapes


def test_every_registered_game_declares_its_shape():
    """Who meets whom and how the rounds stack, as each shipped game states it."""
    shapes = {game_id: games.make(game_id).shape for game_id in games.registry.ids()}
    assert {i for i, s in shapes.items() if s.stacks == "pairs"} == {"gan-v0", "minimax-v0", "hinge-v0", "lsgan-v0"}
    assert shapes["gman-v0"] == games.Shape("one", "all", "discriminators")
    assert shapes["madgan-v0"] == games.Shape("all", "one", "none")
    assert shapes["wgan-gp-v0"] == shapes["reinforce-v0"] == games.Shape()


def test_a_shape_deals_the_matches_of_teams_in_turn():
    gman, madgan = games.Shape("one", "all"), games.Shape("all", "one")
    assert gman.matches(5, 2, 3) == [((1,), (0, 1, 2))]
    assert madgan.matches(5, 2, 3) == [((0, 1), (2,))]
    assert games.Shape().matches(5, 2, 3) is None  # a pair game: the schedule deals its pairs
    with pytest.raises(ValueError, match="only a pair game stacks pairs"):
        games.Shape("one", "all", "pairs")
    with pytest.raises(ValueError, match="stacks its discriminators"):
        games.Shape("all", "one", "discriminators")


class _Penalised(games.NonSaturatingGame):
    """A user's pair game that needs more than its losses (a penalty in its discriminator's loss)."""

    def discriminator_loss(self, discriminator, real, fake):
        loss, real_logits, fake_logits = super().discriminator_loss(discriminator, real, fake)
        return loss + 0.5 * real_logits.square().mean(), real_logits, fake_logits


class _Claims(_Penalised):
    shape = games.Shape(stacks="pairs")  # and says, wrongly, that its losses are all of it


def test_a_subclass_inherits_who_plays_but_not_the_stacking():
    from arena.engine.batched import batchable_game

    assert batchable_game(games.NonSaturatingGame())
    assert _Penalised.shape == games.Shape(stacks="none") and not batchable_game(_Penalised())
    games.check_game(_Penalised())


def test_check_game_refuses_a_stacking_the_game_does_not_keep():
    with pytest.raises(AssertionError, match=re.escape("its shape says it stacks pairs, but its own updates compute")):
        games.check_game(_Claims())


def test_only_a_game_that_stacks_its_discriminators_has_a_team_step():
    g, d = tiny_pair()
    fake = g.sample(8)
    with pytest.raises(TypeError, match=re.escape("NonSaturatingGame's shape stacks 'pairs': it has no team step")):
        games.make("gan-v0").generator_team_step(g, [d(fake)], fake)
    stats = games.make("gman-v0").generator_team_step(g, [d(fake)], fake)
    assert stats["g_loss"].dim() == 0
