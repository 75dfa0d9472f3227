"""arena/data/kinds.py: each kind of data owns its metrics, quality signal, histogram, eval
metrics and pictures; checked on samples with known answers."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from arena.core.registry import build
from arena.data import sources
from arena.data.kinds import Categorical, Density1D, Images, Points, ToyMixture
from games.checker import tiny_pair


def make(spec):
    return build(spec, sources, ("data",), seed=0)


def test_every_source_has_its_kind():
    kinds = {"ring8": ToyMixture, "grid25": ToyMixture, "gaussian1d": Density1D, "categorical": Categorical,
             "digits": Images}
    for source, kind in kinds.items():
        assert type(make({"source": source}).kind) is kind, source


def test_toy_mixture_on_samples_at_known_places():
    ring = make({"source": "ring8", "train_size": 1000, "test_size": 100})
    kind = ring.kind
    centers = kind.centers
    # 3 samples on mode 0, 1 on mode 1, 1 far from every mode
    x = torch.stack([centers[0], centers[0], centers[0], centers[1], torch.tensor([5.0, 5.0])])
    m = kind.metrics(x, ring)
    assert m["modes"] == 2 and m["high_quality"] == pytest.approx(80.0)
    p = torch.tensor([0.75, 0.25])
    assert m["reverse_kl"] == pytest.approx(math.log(8) + float((p * p.log()).sum()))
    signal = kind.signal(x, ring)
    assert list(signal) == ["modes", "high_quality", "reverse_kl", "quality"] and signal["quality"] == signal["high_quality"]
    assert kind.histogram(x).tolist() == pytest.approx([0.6, 0.2, 0, 0, 0, 0, 0, 0])
    assert kind.target().tolist() == [1.0] * 8
    assert kind.eval_metrics(ring) == ["modes", "spread", "mode_tv"]
    truth = kind.truth(x, ring)  # the metrics, and the total variation over the modes and off them
    assert {k: truth[k] for k in m} == m and truth["mode_tv"] == pytest.approx(0.5 * (abs(0.6 - 0.989 / 8) + abs(0.2 - 0.989 / 8)
                                                                               + 6 * 0.989 / 8 + abs(0.2 - 0.011)), abs=1e-3)
    assert kind.discriminator_signal(list(tiny_pair()), ring) == [], "2-D data: no D(x) check"


def test_categorical_symbols():
    data = make({"source": "categorical", "probs": [3, 1]})
    kind = data.kind
    assert kind.probs == [0.75, 0.25]
    x = torch.nn.functional.one_hot(torch.tensor([0, 0, 1, 1]), 2).float()
    m = kind.metrics(x, data)
    assert m == {"tv": pytest.approx(0.25), "symbols": 2, "quality": pytest.approx(0.75)}
    assert kind.signal(x, data) == m
    assert kind.histogram(x).tolist() == [0.5, 0.5] and kind.target().tolist() == [0.75, 0.25]
    assert kind.eval_metrics(data) == ["histogram"]


def test_images_signal_is_diversity_and_no_metrics():
    data = make({"source": "digits"})
    kind = data.kind
    same = data.test[:1].repeat(100, 1, 1, 1)
    assert kind.metrics(same, data) == {}
    signal = kind.signal(same, data)
    assert signal == {"diversity": 0.0, "quality": 0.0}
    assert kind.signal(data.test[:200], data)["diversity"] == pytest.approx(1.0, abs=0.15)
    assert kind.histogram(same) is None and kind.target() is None
    assert kind.eval_metrics(data) == ["parzen", "fd", "precision_recall", "coverage"]


def test_one_dimensional_points_check_each_discriminator_against_one_half():
    data = make({"source": "gaussian1d", "train_size": 1000, "test_size": 500})
    assert isinstance(data.kind, Density1D) and data.kind.eval_metrics(data) == ["equilibrium"]
    assert data.kind.density(torch.tensor([4.0])).item() == pytest.approx(1 / (0.5 * math.sqrt(2 * math.pi)))
    g, d = tiny_pair(dim=1)
    with torch.no_grad():
        for p in d.net.parameters():
            p.zero_()  # logit 0 everywhere: D(x) = 1/2, the equilibrium
    [(name, m)] = data.kind.discriminator_signal([d], data)
    assert name == "d" and m == {"d_real": pytest.approx(0.5), "d_gap": pytest.approx(0.0), "quality": pytest.approx(1.0)}
    assert d.training, "left in training mode"
    assert data.kind.signal(torch.zeros(10, 1), data) == {}, "points define no sample metrics"


@pytest.mark.parametrize("source, size", [("ring8", (500, 500)), ("gaussian1d", (600, 350)), ("categorical", (500, 300)),
                                          ("digits", None)])
def test_every_kind_draws_a_picture(tmp_path, source, size):
    data = make({"source": source})
    samples = data.test[:64]
    path = tmp_path / "x.png"
    d = tiny_pair(dim=1)[1] if source == "gaussian1d" else None
    data.kind.picture(samples, path, data, d, title="t", grid=16)
    with Image.open(path) as im:
        if size:
            assert im.size == size
        else:
            assert im.width >= 256 and im.mode == "L"  # 16 images of 8 x 8, scaled up


def test_points_without_structure():
    kind = Points()
    assert kind.metrics(torch.zeros(3, 2), None) == {} and kind.histogram(torch.zeros(3, 2)) is None
    assert str(Images()) == "images" and str(kind) == "points"
