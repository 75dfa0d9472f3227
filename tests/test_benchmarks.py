"""The benchmark scripts' own logic where a slip would change what a table compares."""

from __future__ import annotations

from pathlib import Path

from arena.config import config_to_dict, load_config
from benchmarks.stacked import own_game

ROOT = Path(__file__).resolve().parents[1]


def test_the_pair_playing_the_tournaments_game_takes_its_game_optimizer_and_ema():
    tournament = config_to_dict(load_config(ROOT / "configs/stacked_mnist_gman.yaml"))
    pair = config_to_dict(load_config(ROOT / "configs/stacked_mnist.yaml", own_game(str(ROOT / "configs/stacked_mnist_gman.yaml"))))
    generator = next(a for a in tournament["agents"] if a["role"] == "generator")
    assert pair["game"] == tournament["game"]
    assert pair["agents"][0]["optim"] == generator["optim"]
    assert pair["agents"][0]["ema"] == generator["ema"]
    # the rest of the pair stays the pair's: its network, its discriminator, its budget
    plain = config_to_dict(load_config(ROOT / "configs/stacked_mnist.yaml"))
    assert pair["agents"][0]["net"] == plain["agents"][0]["net"] and pair["agents"][1] == plain["agents"][1]
    assert pair["schedule"] == plain["schedule"]
