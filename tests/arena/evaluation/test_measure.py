"""`arena eval` and arena/evaluation/measure.py: the metrics that apply to each kind of data."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from arena.data.toy import mixture_centers
from arena.evaluation.metrics import mode_metrics, mode_tv
from arena.rundir import RunDir
from tests import golden
from tests.conftest import run_cli, tiny_raw


@pytest.fixture
def ring_run(tmp_path, write_config):
    out = tmp_path / "ring"
    assert run_cli("run", write_config(tiny_raw(), "ring.yaml"), "--out", out, "--quiet") == 0
    return out


def test_eval_on_a_toy_mixture_agrees_with_arena_sample(ring_run, tmp_path, capsys):
    assert run_cli("eval", ring_run, "--seed", 4) == 0
    out = capsys.readouterr().out
    assert "high_quality" in out and "reverse_kl" in out
    result = json.loads((ring_run / "eval.json").read_text())["g"]
    assert result["seed"] == 4 and result["samples"] == 2500 and result["matching"] == 6
    assert run_cli("sample", ring_run, "-n", 2500, "--seed", 4, "-o", tmp_path / "s.npy") == 0
    samples, ring = torch.from_numpy(np.load(tmp_path / "s.npy")), mixture_centers("ring", modes=8, radius=1.0)
    expected = {**mode_metrics(samples, ring, 0.01), **mode_tv(samples, ring, 0.01)}
    assert {k: result[k] for k in expected} == pytest.approx(expected)


def test_eval_errors(ring_run, capsys):
    assert run_cli("eval", ring_run, "--metrics", "fid") == 2
    assert "unknown metric 'fid'" in capsys.readouterr().err
    assert run_cli("eval", ring_run, "--metrics", "parzen") == 2
    assert "'parzen' does not apply to ring8 data (applicable: modes, spread, mode_tv)" in capsys.readouterr().err
    assert run_cli("eval", ring_run, "--agent", "d") == 2
    assert "d is a discriminator" in capsys.readouterr().err


def test_eval_on_gaussian1d_reports_the_equilibrium_check(tmp_path, write_config):
    raw = tiny_raw(data={"source": "gaussian1d", "train_size": 2000, "test_size": 500})
    raw["agents"][0]["latent"] = {"dist": "uniform", "dim": 1}
    out = tmp_path / "g1"
    assert run_cli("run", write_config(raw), "--out", out, "--quiet") == 0
    assert run_cli("eval", out) == 0
    result = json.loads((out / "eval.json").read_text())["g"]
    assert 0 <= result["d_gap"] <= 0.5 and 0 <= result["d_opt_gap"] <= 1


def test_eval_on_labelled_images_trains_and_caches_the_classifier(tmp_path, write_config, monkeypatch):
    monkeypatch.setenv("GAN_ARENA_CACHE", str(tmp_path / "cache"))
    raw = tiny_raw(data={"source": "digits"}, schedule={"matchings": 2, "steps_per_match": 5})
    raw["data"] = {"source": "digits"}
    raw["agents"][0]["latent"] = {"dist": "normal", "dim": 8}
    out = tmp_path / "digits"
    assert run_cli("run", write_config(raw), "--out", out, "--quiet") == 0
    assert run_cli("eval", out, "-n", 300) == 0
    result = json.loads((out / "eval.json").read_text())["g"]
    assert result["classifier_accuracy"] > 0.9
    for key in ("parzen_ll", "parzen_se", "parzen_sigma", "fd", "precision", "recall", "classes_covered", "class_kl"):
        assert key in result and np.isfinite(result[key]), key
    cached = list((tmp_path / "cache" / "classifiers").glob("digits-*.pt"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    assert run_cli("eval", out, "-n", 300, "--metrics", "coverage") == 0
    assert cached[0].stat().st_mtime_ns == stamp, "the second evaluation loads the cached classifier"
    again = json.loads((out / "eval.json").read_text())["g"]
    assert again["classifier_accuracy"] == result["classifier_accuracy"]
    assert again["classes_covered"] == result["classes_covered"]


SLOW_EVALS = {"stacked_mnist_tournament", "stacked_mnist_population", "stacked_mnist_tournament_gpu",
              "stacked_mnist_rotation", "stacked_mnist_pacgan4"}
"""Stacked MNIST configs whose `arena eval` measures what the default suite's stacked_mnist,
stacked_mnist_gman and stacked_mnist_family runs measure (the same data kind and metrics, 4-13 s
each): run with -m slow."""


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_EVALS else n for n in golden.shipped()])
def test_eval_works_on_every_shipped_configs_run(name, shipped_runs, classifier_cache, monkeypatch, tmp_path):
    """`arena eval` with every metric that applies, on a short run of each shipped config."""
    monkeypatch.setenv("GAN_ARENA_CACHE", str(classifier_cache))
    shared, _ = shipped_runs(name)
    out = tmp_path / name
    shutil.copytree(shared, out)
    assert run_cli("eval", out, "-n", 200) == 0
    result = json.loads((out / "eval.json").read_text())
    assert result and all(len(r) > 5 for r in result.values())


def test_the_mixture_of_a_one_pair_run_is_its_generator(ring_run, capsys):
    assert run_cli("eval", ring_run, "--mixture", "-n", 300) == 0
    result = json.loads((ring_run / "eval.json").read_text())
    assert result["mixture"]["samples"] == 300 and "modes" in result["mixture"]

    assert RunDir(ring_run).load_checkpoint()["standings"]["mixture"]["components"] == ["g"]


# ----------------------------------------------------------------------------- the review's measurements


def _data(spec):
    from arena.core.registry import build
    from arena.data import sources

    return build(spec, sources, ("data",), seed=0)


def test_a_toy_mixture_on_samples_at_known_places():
    import math

    from arena.evaluation.measure import discriminator_signal, sample_metrics, signal, truth
    from games.checker import tiny_pair

    ring = _data({"source": "ring8", "train_size": 1000, "test_size": 100})
    centers = ring.kind.modes().centers
    # 3 samples on mode 0, 1 on mode 1, 1 far from every mode
    x = torch.stack([centers[0], centers[0], centers[0], centers[1], torch.tensor([5.0, 5.0])])
    m = sample_metrics(ring, x)
    assert m["modes"] == 2 and m["high_quality"] == pytest.approx(80.0)
    p = torch.tensor([0.75, 0.25])
    assert m["reverse_kl"] == pytest.approx(math.log(8) + float((p * p.log()).sum()))
    values = signal(ring, x)
    assert list(values) == ["modes", "high_quality", "reverse_kl", "quality"] and values["quality"] == values["high_quality"]
    judged = truth(ring, x)  # the metrics, and the total variation over the modes and off them
    assert {k: judged[k] for k in m} == m and judged["mode_tv"] == pytest.approx(
        0.5 * (abs(0.6 - 0.989 / 8) + abs(0.2 - 0.989 / 8) + 6 * 0.989 / 8 + abs(0.2 - 0.011)), abs=1e-3)
    assert discriminator_signal(ring, list(tiny_pair())) == [], "2-D data: no D(x) check"


def test_categorical_symbols_and_their_quality():
    from arena.evaluation.measure import sample_metrics, signal

    data = _data({"source": "categorical", "probs": [3, 1]})
    x = torch.nn.functional.one_hot(torch.tensor([0, 0, 1, 1]), 2).float()
    assert sample_metrics(data, x) == {"tv": pytest.approx(0.25), "symbols": 2}
    assert signal(data, x) == {"tv": pytest.approx(0.25), "symbols": 2, "quality": pytest.approx(0.75)}


def test_the_images_signal_is_diversity():
    from arena.evaluation.measure import sample_metrics, signal

    data = _data({"source": "digits"})
    same = data.test[:1].repeat(100, 1, 1, 1)
    assert sample_metrics(data, same) == {}
    assert signal(data, same) == {"diversity": 0.0, "quality": 0.0}
    assert signal(data, data.test[:200])["diversity"] == pytest.approx(1.0, abs=0.15)


def test_one_dimensional_points_check_each_discriminator_against_one_half():
    from arena.evaluation.measure import discriminator_signal, signal
    from games.checker import tiny_pair

    data = _data({"source": "gaussian1d", "train_size": 1000, "test_size": 500})
    _, d = tiny_pair(dim=1)
    with torch.no_grad():
        for p in d.net.parameters():
            p.zero_()  # logit 0 everywhere: D(x) = 1/2, the equilibrium
    [(name, m)] = discriminator_signal(data, [d])
    assert name == "d" and m == {"d_real": pytest.approx(0.5), "d_gap": pytest.approx(0.0), "quality": pytest.approx(1.0)}
    assert d.training, "left in its own (training) mode"
    d.eval()
    discriminator_signal(data, [d])
    assert not d.training, "left in its own (evaluation) mode"
    assert signal(data, torch.zeros(10, 1)) == {}, "points define no sample metrics"
