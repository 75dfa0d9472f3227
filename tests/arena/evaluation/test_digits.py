"""arena/evaluation/digits.py: Stacked MNIST's judge: the shipped digit classifier, and modes and
KL on real stacked data (every mode, KL at its sampling floor) and on known histograms."""

from __future__ import annotations

import math

import pytest
import torch

from arena.core.registry import build
from arena.data import sources
from arena.data.stacked import stack
from arena.evaluation.digits import SHIPPED, WEIGHTS, classify_channels, digit_classifier, stacked_modes, triple_counts


@pytest.fixture(scope="module")
def judged():
    data = build({"source": "stacked-mnist", "train_size": 200, "test_size": 200}, sources, ("data",), seed=0)
    base = data.kind.digits()
    model, accuracy, name = digit_classifier(base, cache=False)
    return base, model, accuracy, name


def test_the_shipped_classifier_reads_the_bundled_digits(judged):
    base, _, accuracy, name = judged
    assert accuracy >= 0.97, accuracy  # 98.3 % on the 1,000 held-out digits of mnist5k
    assert name.startswith("digits-cnn/1:")
    assert all((WEIGHTS / file).is_file() for file, _ in SHIPPED.values())


def test_real_stacked_data_covers_every_mode_at_the_kl_floor(judged):
    """25,600 triples of held-out digits: all 1,000 modes, and KL near the floor of a perfectly
    uniform draw (about 999 / (2 x 25,600) = 0.02; the classifier's 1.7 % errors move a few
    samples between modes). Every channel of a real stacked sample is a base digit, so the triples'
    digits are read off the classified base digits; classify_channels gives the same on stacked images."""
    base, model, _, _ = judged
    g = torch.Generator().manual_seed(0)
    index = torch.randint(base.test.shape[0], (25_600, 3), generator=g)
    per_digit = classify_channels(model, base.test).flatten()  # each base digit alone
    assert torch.equal(classify_channels(model, stack(base.test, index[:1000])), per_digit[index[:1000]])
    out = stacked_modes(per_digit[index])
    assert out["modes"] == 1000
    assert 0.01 < out["kl"] < 0.05, out


def test_a_generator_of_one_triple_has_one_mode_and_kl_ln_1000(judged):
    base, model, _, _ = judged
    one = stack(base.test, torch.tensor([[0, 1, 2]])).expand(2560, 3, 28, 28)
    out = stacked_modes(classify_channels(model, one))
    assert out == {"modes": 1, "kl": pytest.approx(math.log(1000))}


def test_modes_and_kl_on_known_histograms():
    digits = torch.tensor([[1, 2, 3], [1, 2, 3], [4, 5, 6], [9, 9, 9]])
    counts = triple_counts(digits)
    assert counts[123] == 2 and counts[456] == 1 and counts[999] == 1 and counts.sum() == 4
    p = torch.tensor([0.5, 0.25, 0.25])
    assert stacked_modes(digits) == {"modes": 3, "kl": pytest.approx(math.log(1000) + float((p * p.log()).sum()))}
    uniform = torch.tensor([[i // 100, i // 10 % 10, i % 10] for i in range(1000)])
    assert stacked_modes(uniform) == {"modes": 1000, "kl": pytest.approx(0.0, abs=1e-12)}


def test_a_shipped_classifier_that_does_not_match_its_checksum_is_refused(tmp_path, monkeypatch, judged):
    from arena.core.errors import ArenaError
    from arena.evaluation import digits

    base = judged[0]
    (tmp_path / "digits-cnn-mnist5k.pt").write_bytes((WEIGHTS / "digits-cnn-mnist5k.pt").read_bytes()[:-10] + b"0123456789")
    monkeypatch.setattr(digits, "WEIGHTS", tmp_path)
    with pytest.raises(ArenaError, match="does not match its checksum"):
        digit_classifier(base)
