"""games/env.py and games/reinforce.py: the gymnasium adapter and discrete generators trained by REINFORCE."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import games
from agents import CategoricalGenerator, Normal
from games import GeneratorEnv, GeneratorVectorEnv
from games.checker import tiny_pair
from tests.conftest import ROOT


def _categorical_env(**kw):
    space = gym.spaces.Box(0.0, 1.0, (4,), np.float32)
    _, d = tiny_pair(dim=4)
    return GeneratorEnv(d, Normal(dim=3), space, categorical=True, **kw), d


@pytest.mark.filterwarnings("ignore:.*Box action space:UserWarning")
def test_generator_env_passes_gymnasiums_checker():
    env, _ = _categorical_env()
    check_env(env, skip_render_check=True)
    space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    _, d = tiny_pair()
    check_env(GeneratorEnv(d, Normal(dim=3), space), skip_render_check=True)


def test_generator_env_rewards_are_the_discriminators_scores():
    env, d = _categorical_env(reward="log_d")
    obs, _ = env.reset(seed=1)
    assert obs.shape == (3,)
    _, reward, terminated, truncated, _ = env.step(2)
    d.eval()
    with torch.no_grad():
        expected = float(torch.nn.functional.logsigmoid(d(torch.eye(4)[2:3])).squeeze())
    assert reward == pytest.approx(expected, abs=1e-6) and terminated and not truncated
    before = [p.clone() for p in d.net.parameters()]
    for a in range(4):
        env.reset()
        env.step(a)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)  # the episode ended
    assert all(torch.equal(a, b) for a, b in zip(before, d.net.parameters()))  # D stays frozen


def test_vector_env_scores_a_batch_in_one_pass():
    space = gym.spaces.Box(0.0, 1.0, (4,), np.float32)
    _, d = tiny_pair(dim=4)
    env = GeneratorVectorEnv(d, Normal(dim=3), space, num_envs=5, categorical=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (5, 3) and env.action_space.shape == (5,)
    _, rewards, done, truncated, _ = env.step(np.array([0, 1, 2, 3, 0]))
    single, _ = _categorical_env()
    single._scorer.discriminator = d
    single.reset(seed=0)
    assert rewards[0] == pytest.approx(single.step(0)[1]) and rewards[4] == pytest.approx(rewards[0])
    assert done.all() and not truncated.any()


def test_reinforce_learns_a_discrete_distribution():
    """A categorical generator trained only through the env's rewards matches 4 symbols' frequencies."""
    from arena.evaluation.metrics import categorical_metrics

    probs = torch.tensor([0.4, 0.3, 0.2, 0.1])
    game = games.make("reinforce-v0", entropy=0.01)
    g, d = tiny_pair(dim=4, output="categorical", seed=1)
    assert isinstance(g, CategoricalGenerator)
    data = torch.Generator().manual_seed(0)

    def real():
        return torch.nn.functional.one_hot(torch.multinomial(probs, 64, replacement=True, generator=data), 4).float()

    with torch.no_grad():
        before = categorical_metrics(g.eval().sample(4000, torch.Generator().manual_seed(1)), probs)["tv"]
    g.train()
    for _ in range(600):
        game.play_round([g], [d], real)
    with torch.no_grad():
        after = categorical_metrics(g.eval().sample(4000, torch.Generator().manual_seed(1)), probs)
    assert after["tv"] < 0.08 and after["tv"] < before / 2, (before, after)
    assert after["symbols"] == 4


def test_the_reinforce_config_learns_the_symbols_through_the_cli(tmp_path):
    """configs/reinforce_discrete.yaml at 3 of its 20 matchings: the mixture's symbol frequencies
    end within 0.1 total variation of the data's 8:7:...:1, from about 0.2 untrained."""
    import json

    from agents import draw_samples
    from arena.cli.commands import main
    from arena.config import load_config
    from arena.engine.arena import build_arena
    from arena.evaluation.metrics import categorical_metrics

    config = ROOT / "configs" / "reinforce_discrete.yaml"
    sets = ["device=cpu", "schedule.matchings=3", "review.every=3", "checkpoint.every=3"]
    untrained = build_arena(load_config(config, sets))
    probs = untrained.data.kind.symbols()
    before = categorical_metrics(draw_samples(untrained.generators[0], 2500, 0), probs)["tv"]
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out), "--quiet", *[x for s in sets for x in ("--set", s)]]) == 0
    evals = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    mixture = [r for r in evals if r["kind"] == "eval" and r["agent"] == "mixture"][-1]
    assert before > 0.15 and mixture["tv"] < 0.1 and mixture["symbols"] == 8, (before, mixture)
