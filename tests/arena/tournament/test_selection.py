"""arena/tournament/selection.py: the worst replaced by mutated copies of the best."""

from __future__ import annotations

import copy

import pytest
import torch

from arena.config import parse_config
from arena.engine.arena import build_arena
from arena.engine.match import play_match
from arena.tournament.callbacks import Callback
from arena.tournament.loop import Tournament
from tests.conftest import (
    tiny_tournament,
)


def test_selection_copies_weights_and_optimizer_state_and_records_lineage(tmp_path):
    raw = tiny_tournament(schedule={"matchings": 4, "steps_per_match": 5, "batch_size": 32},
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

    arena = build_arena(parse_config(tiny_tournament()))
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


def _image_pool(generators: int = 3, **changes) -> dict:
    from tests.conftest import tiny_pool

    raw = tiny_pool(generators, 2, net={"type": "dcgan", "widths": [8, 4], "kernel": 3},
                    data={"source": "stacked-mnist", "train_size": 64, "test_size": 64}, **changes)
    raw["agents"][0]["latent"] = {"dist": "normal", "dim": 8}
    return raw


def test_selection_by_diversity_replaces_only_collapsed_generators_by_the_most_diverse():
    """Spread ``min(d, 1/d)`` ranks generators; those below ``min_diversity`` (a collapse, or noise
    spread beyond the data) are replaced by a copy of the most diverse; healthy ones stay."""
    from arena.config.sections import SelectionConfig
    from arena.tournament.selection import select, spread

    assert spread(0.5) == spread(2.0) == 0.5 and spread(1.0) == 1.0 and spread(0.0) == 0.0
    gens = build_arena(parse_config(_image_pool(4))).generators
    before = {g.name: copy.deepcopy(g.net.state_dict()) for g in gens}
    measured = {"g0": 0.1, "g1": 0.9, "g2": 0.7, "g3": 3.0}
    config = SelectionConfig(every=1, replace=2, by="diversity")
    records = select({"generator": gens}, lambda a: 0.0, config, torch.Generator().manual_seed(0), lambda a: True,
                     lambda g: measured[g.name])
    assert [(r["replaced"], r["parent"]) for r in records] == [("g0", "g1"), ("g3", "g1")]
    assert records[0]["replaced_diversity"] == pytest.approx(0.1) and records[1]["replaced_diversity"] == pytest.approx(1 / 3)
    after = {g.name: g.net.state_dict() for g in gens}
    for name in ("g0", "g3"):
        assert all(torch.equal(after[name][k], before["g1"][k]) for k in before["g1"])
    assert all(torch.equal(after["g2"][k], before["g2"][k]) for k in before["g2"]), "a healthy generator is kept"

    healthy = {"g0": 0.6, "g1": 0.9, "g2": 0.7, "g3": 1.2}
    assert select({"generator": gens}, lambda a: 0.0, config, torch.Generator().manual_seed(0), lambda a: True,
                  lambda g: healthy[g.name]) == []
    # both collapsed: the less collapsed is the parent (never more than half the pool replaced)
    two = {"g0": 0.06, "g1": 0.32}
    records = select({"generator": gens[:2]}, lambda a: 0.0, config, torch.Generator().manual_seed(0), lambda a: True,
                     lambda g: two[g.name])
    assert [(r["replaced"], r["parent"]) for r in records] == [("g0", "g1")]


def test_selection_by_diversity_in_a_tournament_on_images_and_refused_elsewhere():
    """A generator whose samples are all one image is replaced at the review by a copy of a
    diverse one (the ratings play no part); on data without a diversity signal the config is refused."""
    import re

    from arena.core.errors import ConfigError
    from tests.conftest import tiny_pool

    raw = _image_pool(2, schedule={"matchings": 4, "steps_per_match": 2, "batch_size": 16},
                      review={"every": 2, "samples": 64, "pictures": False},
                      selection={"every": 2, "by": "diversity", "mutate": {"lr": 0.0}})
    reviewed = {}

    class Collapse(Callback):
        def on_match_end(self, tournament, outcome, rounds_done, rounds_total):
            if tournament.completed < 2:  # g0's last layer speaks with its bias alone: one image for every latent
                last = [m for m in tournament.arena.agents["g0"].net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))][-1]
                with torch.no_grad():
                    last.weight.zero_()

        def on_review(self, tournament, review):
            if review.matching == 2:
                reviewed.update(metrics={n: dict(m) for n, m in tournament.standings.metrics.items()},
                                weights={n: copy.deepcopy(a.net.state_dict()) for n, a in tournament.arena.agents.items()})

    t = Tournament(build_arena(parse_config(raw)), [Collapse()])
    t.run()
    assert reviewed["metrics"]["g0"]["diversity"] == pytest.approx(0.0, abs=1e-9)
    assert reviewed["metrics"]["g1"]["diversity"] > 1e-5  # barely trained, but its samples differ
    generators = [(r["matching"], r["replaced"], r["parent"]) for r in t.standings.lineage if r["role"] == "generator"]
    assert generators == [(2, "g0", "g1")]
    assert [r["role"] for r in t.standings.lineage] == ["generator", "discriminator"], "discriminators: by rating"
    assert all(torch.equal(reviewed["weights"]["g0"][k], v) for k, v in reviewed["weights"]["g1"].items())

    with pytest.raises(ConfigError, match=re.escape("selection.by: 'diversity' ranks the generators by their image samples' spread")):
        build_arena(parse_config(tiny_pool(2, 2, selection={"every": 3, "by": "diversity"})))
