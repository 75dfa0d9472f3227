"""arena/tournament/loop.py and its steps: N x M runs, cross-play, leaderboard, selection,
mixtures, resume, mixed agents."""

from __future__ import annotations

import copy
import csv
import json
import re
import shutil

import pytest
import torch

import arena
from arena.cli import main
from arena.config import parse_config
from arena.engine.arena import build_arena
from arena.engine.match import play_match
from arena.rundir import RunDir
from arena.tournament.callbacks import Callback
from arena.tournament.crossplay import payoff_matrix
from arena.tournament.loop import Tournament
from tests.conftest import assert_same_weights, keep_checkpoints_until, records, tiny_raw, train, weights


def tourney_raw(**changes) -> dict:
    raw = tiny_raw(
        name="tourney",
        agents=[{**a, "count": 3} for a in tiny_raw()["agents"]],
        schedule={"matchings": 8, "steps_per_match": 5},
        review={"every": 2, "samples": 300},
        selection={"every": 4, "replace": 1, "mutate": {"lr": 0.3, "betas": 0.02}},
        mixture={"top": 2, "weights": "oracle-modes"},
    )
    raw.update(copy.deepcopy(changes))
    return raw


def test_a_tournament_writes_results_leaderboard_lineage_and_mixture(tmp_path):
    t = train(tourney_raw(), tmp_path / "run")
    run = tmp_path / "run"
    results = json.loads((run / "results.json").read_text())
    assert len(results) == 4 and results[0]["generators"] == ["g0", "g1", "g2"]
    assert all(0 <= p <= 1 for r in results for row in r["payoff"] for p in row)
    rows = list(csv.DictReader((run / "leaderboard.csv").open()))
    assert [r["agent"][0] for r in rows] == ["g"] * 3 + ["d"] * 3
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 1, 2, 3]
    board = json.loads((run / "leaderboard.json").read_text())
    assert board["matching"] == 8 and board["system"] == "glicko2"
    ratings = [r["rating"] for r in board["rows"] if r["role"] == "generator"]
    assert ratings == sorted(ratings, reverse=True)
    # 8 matchings x 3 matches: every agent played 8 matches
    assert all(r["matches"] == 8 for r in board["rows"])
    lineage = json.loads((run / "lineage.json").read_text())
    assert [r["matching"] for r in lineage] == [4, 4]  # selection at 4, not after the last matching
    assert {r["role"] for r in lineage} == {"generator", "discriminator"}
    mixture = json.loads((run / "mixture.json").read_text())
    assert 1 <= len(mixture["components"]) <= 2 and sum(mixture["weights"]) == pytest.approx(1)
    assert {"modes", "high_quality", "reverse_kl"} <= set(mixture["metrics"])
    kinds = {r["kind"] for r in records(run)}
    assert {"payoff", "selection", "eval", "train"} <= kinds
    assert t.standings.identity(t.arena.agent(lineage[0]["replaced"])).endswith("@1")


def test_payoff_matrix_batched_equals_pair_by_pair():
    """Three discriminators of one architecture judge stacked, a fourth of another alone."""
    raw = tourney_raw()
    other = copy.deepcopy(raw["agents"][1])
    other.update(name="e", count=1, net={"type": "mlp", "hidden": [8]})
    raw["agents"].append(other)
    arena = build_arena(parse_config(raw))
    assert len(arena.discriminators) == 4
    gen = torch.Generator().manual_seed(0)
    samples = {g.name: g.sample(100, gen).detach() for g in arena.generators}
    real = arena.data.test[:100]
    payoff = payoff_matrix(arena.generators, arena.discriminators, samples, real, arena.game_for, stack=True)
    assert all(d.training for d in arena.discriminators), "each discriminator is back in training mode"
    one_by_one = payoff_matrix(arena.generators, arena.discriminators, samples, real, arena.game_for, stack=False)
    assert [c for row in one_by_one for c in row] == pytest.approx([c for row in payoff for c in row])
    for i, g in enumerate(arena.generators):
        for j, d in enumerate(arena.discriminators):
            d.eval()
            with torch.no_grad():
                expected = float(arena.game.score(d(real), d(samples[g.name])))
            assert payoff[i][j] == pytest.approx(expected)
    retired = payoff_matrix(arena.generators, arena.discriminators, samples, real, arena.game_for,
                            active=lambda a: a.name != "d1")
    assert [row[1] for row in retired] == [None] * 3 and retired[0][0] == payoff[0][0]


def test_stacked_forward_in_chunks_equals_each_network_alone():
    from arena.engine.batched import stacked_forward

    arena = build_arena(parse_config(tourney_raw()))
    nets = [d.net.eval() for d in arena.discriminators]
    x = torch.randn(300, 2, generator=torch.Generator().manual_seed(1))
    out = stacked_forward(nets, x, chunk=64)
    with torch.no_grad():
        expected = torch.stack([net(x) for net in nets])
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)


def test_selection_copies_weights_and_optimizer_state_and_records_lineage(tmp_path):
    raw = tourney_raw(schedule={"matchings": 4, "steps_per_match": 5, "batch_size": 32},
                      selection={"every": 2, "replace": 1, "mutate": {"lr": 0.5, "betas": 0.05}})
    config = parse_config(raw)
    captured = {}

    class Spy(Callback):
        def on_review(self, tournament, review):
            if review.matching == 2:
                captured.update({n: copy.deepcopy(a.state_dict()) for n, a in tournament.arena.agents.items()})

    t = Tournament(build_arena(config), [Spy()])
    t.run()
    first = [r for r in t.standings.lineage if r["matching"] == 2]
    assert len(first) == 2
    for record in first:
        child, parent = captured[record["replaced"]], captured[record["parent"]]
        for key, value in parent["net"].items():
            assert torch.equal(child["net"][key], value), key
        c_opt, p_opt = child["optim"]["optimizer"], parent["optim"]["optimizer"]
        for idx, state in p_opt["state"].items():
            assert torch.equal(c_opt["state"][idx]["exp_avg"], state["exp_avg"])
            assert torch.equal(c_opt["state"][idx]["exp_avg_sq"], state["exp_avg_sq"])
        assert child["optim"]["steps"] == parent["optim"]["steps"]
        assert child["optim"]["base_lr"] == pytest.approx(record["lr"]) and record["lr"] != parent["optim"]["base_lr"]
        assert c_opt["param_groups"][0]["betas"] == pytest.approx(record["betas"])
        assert record["parent_rating"] > record["replaced_rating"]


def test_a_selected_copy_shares_no_optimizer_state_with_its_parent():
    """The copy gets its own tensors: the parent's later steps leave the copy's Adam moments and
    step counts as they were (torch's load_state_dict keeps the tensors it is given)."""
    from arena.tournament.selection import copy_agent

    arena = build_arena(parse_config(tourney_raw()))
    parent, child = arena.generators[0], arena.generators[1]
    d = arena.discriminators[0]
    play_match(arena.game, parent, d, arena.stream, 2)
    copy_agent(child, parent)
    before = copy.deepcopy(child.optimizer.optimizer.state_dict()["state"])
    play_match(arena.game, parent, d, arena.stream, 2)
    after = child.optimizer.optimizer.state_dict()["state"]
    for idx, state in before.items():
        for key, value in state.items():
            assert torch.equal(after[idx][key], value), (idx, key)


def test_tournament_resume_equals_an_uninterrupted_run(tmp_path):
    raw = tourney_raw(checkpoint={"every": 3, "keep_last": 5}, schedule={"type": "all-vs-best", "matchings": 8})
    full = train(raw, tmp_path / "full")
    cut = tmp_path / "cut"
    shutil.copytree(tmp_path / "full", cut)
    keep_checkpoints_until(cut, 3)
    opened = arena.api.Run.open(cut)
    assert opened.tournament.completed == 3
    resumed = opened.play().tournament
    assert_same_weights(weights(full), weights(resumed))
    assert records(tmp_path / "full") == records(cut)
    for name in ("results.json", "lineage.json", "mixture.json", "leaderboard.json"):
        assert (tmp_path / "full" / name).read_text() == (cut / name).read_text(), name
    assert full.standings.lineage and full.standings.ratings.keys() == resumed.standings.ratings.keys()


def test_agents_with_another_network_and_another_game_play_in_one_tournament(tmp_path):
    g, d = tiny_raw()["agents"]
    other_d = {**d, "name": "critic", "net": {"type": "maxout-mlp", "units": [16], "pieces": 3},
               "game": {"id": "wgan-gp-v0", "d_steps": 2}}
    other_g = {**g, "name": "h", "net": {"type": "mlp", "hidden": [16, 16, 16], "act": "leaky_relu"}}
    t = train(tiny_raw(agents=[g, other_g, d, other_d], schedule={"matchings": 4}, review={"every": 2, "samples": 200}),
              tmp_path / "run")
    assert t.arena.game_for(t.arena.agent("g"), t.arena.agent("critic")).id == "wgan-gp-v0"
    assert t.arena.game_for(t.arena.agent("h"), t.arena.agent("d")).id == "gan-v0"
    board = json.loads((tmp_path / "run" / "leaderboard.json").read_text())
    assert {r["agent"] for r in board["rows"]} == {"g", "h", "d", "critic"}
    assert all(r["matches"] == 4 for r in board["rows"])


@pytest.mark.parametrize("game,gens,discs", [
    ({"id": "gman-v0", "mean": "softmax", "learn_lam": True}, 1, 3),
    ({"id": "madgan-v0"}, 3, 1),
])
def test_multi_player_games_run_in_the_tournament(tmp_path, game, gens, discs):
    g, d = tiny_raw()["agents"]
    raw = tiny_raw(game=game, agents=[{**g, "count": gens}, {**d, "count": discs}],
                   schedule={"matchings": 4}, review={"every": 2, "samples": 200})
    t = train(raw, tmp_path / "run")
    assert t.rounds == 4 * 10 * gens * discs
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert len(results[-1]["payoff"]) == gens and len(results[-1]["payoff"][0]) == discs
    if game["id"] == "gman-v0":
        assert "gman_lambda" in t.arena.generators[0].state_dict()["extras"]
    else:
        assert t.arena.discriminators[0].action_space.shape == (gens + 1,)


def test_cli_leaderboard_ratings_and_mixture(tmp_path, write_config, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    path = write_config(tourney_raw(schedule={"matchings": 4, "steps_per_match": 5}, mixture={"top": 2, "weights": "rating"}))
    run = tmp_path / "run"
    assert main(["run", str(path), "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["leaderboard", str(run)]) == 0
    out = capsys.readouterr().out
    assert "g0" in out and "d2" in out and "mixture" in out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, "fits an 80-column terminal"
    for agent in ("g0", "g1", "g2", "d0", "d1", "d2"):
        rows = [i for i, line in enumerate(lines) if re.match(rf"\s*\d+\s+{agent}\s+[GD]\s+\d+", line)]
        assert len(rows) == 1 and not lines[rows[0] + 1].startswith("      "), f"{agent}'s row is one line"
    for system in ("elo", "glicko2", "bradley-terry"):
        assert main(["ratings", str(run), "--system", system]) == 0
        assert system in capsys.readouterr().out
    assert main(["ratings", str(run), "--system", "trueskill"]) == 2
    assert "unknown rating system 'trueskill'" in capsys.readouterr().err
    assert main(["sample", str(run), "--mixture", "-n", "500", "--seed", "4", "-o", str(tmp_path / "m.npy")]) == 0
    assert main(["sample", str(run), "--mixture", "-n", "500", "--seed", "4", "-o", str(tmp_path / "m2.npy")]) == 0
    import numpy as np

    a, b = np.load(tmp_path / "m.npy"), np.load(tmp_path / "m2.npy")
    assert a.shape == (500, 2) and (a == b).all()
    saved = RunDir(run).load_checkpoint()["standings"]["mixture"]
    assert main(["eval", str(run), "--mixture"]) == 0
    evaluated = json.loads((run / "eval.json").read_text())["mixture"]
    assert evaluated["samples"] == 2500 and len(saved["components"]) == 2


def test_mixture_samples_follow_the_weights():
    from arena.output.mixture import Mixture

    arena = build_arena(parse_config(tourney_raw()))
    g0, g1, _ = arena.generators
    with torch.no_grad():
        last = [m for m in g1.net.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.bias.add_(100.0)  # g1's samples are far from g0's
    mixture = Mixture([g0, g1], [0.25, 0.75]).eval()
    with torch.no_grad():
        x = mixture.sample(4000, torch.Generator().manual_seed(0))
    share = float((x[:, 0] > 50).float().mean())
    assert share == pytest.approx(0.75, abs=0.03)


def test_fitted_weights_prefer_generators_that_cover_missing_modes():
    from arena.output.mixture import fit_weights

    # four modes; A covers modes 0-1, B covers 2-3, C covers mode 0 only
    hist = torch.tensor([[0.5, 0.0, 1.0], [0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.5, 0.0]])
    w = fit_weights(hist, torch.ones(4))
    assert w.tolist() == pytest.approx([0.5, 0.5, 0.0], abs=1e-3)


def test_bad_tournament_configs_name_the_key(write_config, capsys):
    bad = tourney_raw(selection={"every": 3})
    assert main(["check", str(write_config(bad))]) == 2
    assert "selection.every: selection uses the ratings of the latest review" in capsys.readouterr().err
    g, d = tiny_raw()["agents"]
    grid = tiny_raw(agents=[{**g, "count": 2}, {**d, "count": 3}], schedule={"type": "grid"})
    path = write_config(grid, "grid.yaml")
    assert main(["run", str(path), "--out", str(path.parent / "r"), "--quiet"]) == 2
    assert "schedule.type: the grid schedule needs as many generators as discriminators" in capsys.readouterr().err


@pytest.mark.parametrize("weights", ["nash", "heldout"])
def test_mixtures_chosen_without_the_answer(tmp_path, weights):
    """The Nash mixture follows the latest payoff matrix (its weights are an equilibrium of it); the
    held-out mixture is fitted to real data the generators never trained on. Neither reads the modes."""
    from arena.output.nash import max_entropy_nash

    t = train(tourney_raw(schedule={"matchings": 4, "steps_per_match": 5}, mixture={"top": 0, "weights": weights}),
              tmp_path / "run")
    mixture = json.loads((tmp_path / "run" / "mixture.json").read_text())
    assert sum(mixture["weights"]) == pytest.approx(1.0) and set(mixture["components"]) <= {"g0", "g1", "g2"}
    if weights == "nash":
        period = t.standings.results[-1]
        w, _ = max_entropy_nash(period["payoff"])
        expected = {g: x for g, x in zip(["g0", "g1", "g2"], w) if x >= 1e-4}
        total = sum(expected.values())
        assert dict(zip(mixture["components"], mixture["weights"])) == pytest.approx({g: x / total for g, x in expected.items()})
