"""arena/data/kinds.py: each kind of data names its metrics by registry id and says what it knows
of itself through typed accessors (modes, symbols, a density), nothing else."""

from __future__ import annotations

import math

import pytest
import torch

from arena.core.registry import build
from arena.data import sources
from arena.data.kinds import Categorical, DataKind, Density1D, Images, Modes, Points, ToyMixture
from arena.evaluation.measure import metrics

KINDS = {"ring8": ToyMixture, "grid25": ToyMixture, "gaussian1d": Density1D, "categorical": Categorical, "digits": Images}


def make(spec):
    return build(spec, sources, ("data",), seed=0)


def test_every_source_has_its_kind():
    for source, kind in KINDS.items():
        assert type(make({"source": source}).kind) is kind, source


@pytest.mark.parametrize("source", sorted(KINDS))
def test_every_metric_a_kind_names_is_registered(source):
    data = make({"source": source})
    kind = data.kind
    named = {*kind.metrics, *kind.signal_metrics, *kind.truth_metrics, *kind.discriminator_metrics(data),
             *kind.eval_metrics(data)}
    assert named and all(name in metrics for name in named), named


def test_what_each_kind_knows_of_itself():
    ring = make({"source": "ring8"}).kind
    assert isinstance(ring.modes(), Modes) and ring.modes().centers.shape == (8, 2) and ring.modes().std == 0.01
    assert ring.symbols() is None and ring.density(torch.zeros(1)) is None and not ring.images
    assert ring.eval_metrics(None) == ["modes", "spread", "mode_tv"] and ring.truth_metrics == ("modes", "mode_tv")

    cat = make({"source": "categorical", "probs": [3, 1]}).kind
    assert cat.symbols() == [0.75, 0.25] and cat.modes() is None
    assert cat.quality({"tv": 0.25, "symbols": 2}) == 0.75

    gauss = make({"source": "gaussian1d", "train_size": 1000, "test_size": 500})
    assert gauss.kind.density(torch.tensor([4.0])).item() == pytest.approx(1 / (0.5 * math.sqrt(2 * math.pi)))
    assert gauss.kind.discriminator_metrics(gauss) == ("d_equilibrium",) and gauss.kind.eval_metrics(gauss) == ["equilibrium"]

    digits = make({"source": "digits"})
    assert digits.kind.images and digits.kind.signal_metrics == ("diversity",) and digits.kind.metrics == ()
    assert digits.kind.quality({"diversity": 0.3}) == 0.3
    assert digits.kind.eval_metrics(digits) == ["parzen", "fd", "precision_recall", "coverage"]


def test_points_without_structure_know_nothing():
    kind = Points()
    assert kind.metrics == kind.signal_metrics == () and kind.modes() is None and kind.symbols() is None
    assert kind.quality({}) is None and kind.discriminator_metrics(make({"source": "ring8"})) == ()
    assert str(Images()) == "images" and str(kind) == "points" and isinstance(kind, DataKind)


def test_a_toy_mixture_moves_its_modes_with_it():
    kind = ToyMixture(torch.zeros(3, 2), 0.1).to("meta")
    assert kind.modes().centers.device.type == "meta" and kind.modes().std == 0.1
