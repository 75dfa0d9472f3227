"""games/multi.py: GMAN's loss combinations, MAD-GAN's k + 1 outputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import games
from games import combine_losses
from games.checker import tiny_team


def test_gman_means_by_hand():
    losses = torch.tensor([1.0, 2.0, 4.0])
    assert float(combine_losses(losses, "arithmetic")) == pytest.approx(7 / 3)
    assert float(combine_losses(losses, "geometric")) == pytest.approx(2.0)
    assert float(combine_losses(losses, "harmonic")) == pytest.approx(3 / (1 + 0.5 + 0.25))
    assert float(combine_losses(losses, "softmax", 0.0)) == pytest.approx(7 / 3)
    w = np.exp([1.0, 2.0, 4.0])
    assert float(combine_losses(losses, "softmax", 1.0)) == pytest.approx(float((w / w.sum()) @ [1, 2, 4]))
    assert float(combine_losses(losses, "softmax", 50.0)) == pytest.approx(4.0, abs=1e-6)  # the harshest


def test_gman_learned_lambda_moves_and_is_saved_with_the_generator():
    game = games.make("gman-v0", mean="softmax", lam=1.0, learn_lam=True, lam_lr=0.5)
    gens, discs = tiny_team(game)
    real = torch.randn(32, 2)
    game.play_round(gens, discs, lambda: real)
    first = float(torch.nn.functional.softplus(gens[0].extras["gman_lambda"]))
    for _ in range(5):
        game.play_round(gens, discs, lambda: real)
    later = float(torch.nn.functional.softplus(gens[0].extras["gman_lambda"]))
    assert later != first
    state = gens[0].state_dict()
    other, _ = tiny_team(game, seed=5)
    other[0].load_state_dict(state)
    assert torch.equal(other[0].extras["gman_lambda"], gens[0].extras["gman_lambda"])


def test_gman_rejects_learned_lambda_without_softmax():
    from arena.core.errors import ConfigError

    with pytest.raises(ConfigError, match="learn_lam: learn_lam needs mean: softmax"):
        games.make("gman-v0", mean="geometric", learn_lam=True)


def test_madgan_discriminator_tells_generators_apart():
    game = games.make("madgan-v0")
    gens, discs = tiny_team(game)
    assert discs[0].action_space.shape == (3,) and game.d_outputs(2) == 3
    logits = torch.tensor([[0.0, 0.0, math.log(2.0)]])
    assert float(game.realness(logits)) == pytest.approx(0.0, abs=1e-6)  # real (2) vs either fake (1 + 1)
    torch.manual_seed(0)
    with torch.no_grad():
        for g in gens:
            for p in g.net.parameters():
                p.zero_()
        last0 = [m for m in gens[0].net.modules() if isinstance(m, torch.nn.Linear)][-1]
        last1 = [m for m in gens[1].net.modules() if isinstance(m, torch.nn.Linear)][-1]
        last0.bias.fill_(3.0)
        last1.bias.fill_(-3.0)
    data = torch.Generator().manual_seed(0)
    for _ in range(200):
        game.update_discriminators(gens, discs, torch.randn(32, 2, generator=data))
    d = discs[0].eval()
    with torch.no_grad():
        pred0 = d(gens[0].sample(64)).argmax(1)
        pred1 = d(gens[1].sample(64)).argmax(1)
    assert float((pred0 == 0).float().mean()) > 0.9 and float((pred1 == 1).float().mean()) > 0.9


def test_madgan_on_images_with_a_convolutional_discriminator():
    """MAD-GAN on Stacked MNIST: the dcgan discriminator emits k + 1 logits (it emitted one, so the
    config was refused), and learns to tell two generators that draw different images apart."""
    from arena.config import parse_config
    from arena.engine.arena import build_arena
    from tests.conftest import tiny_pool

    raw = tiny_pool(2, 1, net={"type": "dcgan", "widths": [8, 4], "kernel": 3}, game={"id": "madgan-v0"},
                    data={"source": "stacked-mnist", "train_size": 64, "test_size": 64})
    raw["agents"][0]["latent"] = {"dist": "normal", "dim": 8}
    arena = build_arena(parse_config(raw))
    gens, discs = arena.generators, arena.discriminators
    assert discs[0].action_space.shape == (3,) and discs[0](torch.zeros(5, 3, 28, 28)).shape == (5, 3)
    with torch.no_grad():  # each generator draws one image for every latent: bright for g0, dark for g1
        for g, level in zip(gens, (2.0, -2.0)):
            last = [m for m in g.net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))][-1]
            last.weight.zero_()
            last.bias.fill_(level)
    for _ in range(150):
        arena.game.update_discriminators(gens, discs, arena.stream.next())
    d = discs[0].eval()
    with torch.no_grad():
        pred = [d(g.sample(64)).argmax(1) for g in gens]
        real = d(arena.stream.next()).argmax(1)
    assert float((pred[0] == 0).float().mean()) > 0.9 and float((pred[1] == 1).float().mean()) > 0.9
    assert float((real == 2).float().mean()) > 0.9
