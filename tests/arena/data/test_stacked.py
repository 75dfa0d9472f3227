"""arena/data/stacked.py: Stacked MNIST's data stream draws three independent digits per sample,
afresh every batch and deterministically per seed; the held-out split comes from the base's test
digits; the triples' labels are kept nowhere that training could read."""

from __future__ import annotations

import torch

from arena.core.registry import build
from arena.data import sources
from arena.data.stacked import StackedSource, StackedStream, stack


def make(**spec):
    return build({"source": "stacked-mnist", "train_size": 500, "test_size": 500, **spec}, sources, ("data",), seed=0)


def base_rows(digits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Which row of ``digits`` each channel of ``images`` is, ``(N, 3)`` (every channel must be one)."""
    flat = digits.flatten(1)
    rows = torch.cdist(images.reshape(-1, flat.shape[1]), flat).argmin(1)
    assert torch.equal(digits[rows].reshape(images.shape), images), "a channel that is no base digit"
    return rows.reshape(images.shape[0], 3)


def test_samples_stack_three_base_digits_in_range():
    data = make()
    assert isinstance(data, StackedSource) and data.shape == (3, 28, 28)
    assert (data.low, data.high) == (-1.0, 1.0) and data.train.min() >= -1 and data.train.max() <= 1
    base = data.kind.digits()
    base_rows(base.train, data.train[:50])
    base_rows(base.test, data.test[:50])  # the held-out split: built the same way from the base's test digits


def test_the_stream_draws_afresh_is_deterministic_and_forks_exactly():
    data = make()
    a, b = data.stream(64, seed=3), data.stream(64, seed=3)
    first = [a() for _ in range(5)]
    assert all(torch.equal(x, b()) for x in first), "the same seed draws the same batches"
    assert not torch.equal(first[0], first[1]), "every batch is drawn afresh"
    assert not torch.equal(data.stream(64, seed=4)(), first[0])
    c = data.stream(64, seed=3)
    fork = c.fork(3)
    assert torch.equal(fork(), first[3]) and c.batch == 0, "a fork skips ahead and leaves its parent"
    c.advance(2)
    assert torch.equal(c(), first[2])
    state = c.state_dict()
    resumed = data.stream(64, seed=3)
    resumed.load_state_dict(state)
    assert torch.equal(resumed(), first[3]), "a resumed stream goes on where the checkpoint left it"


def test_the_three_channels_are_independent_and_uniform():
    """Each channel's digit, read from the base's labels here (a test may; training code cannot),
    is uniform over the base, and the channels are independent: the triples' joint histogram is
    the product of its marginals (a chi-square test over 9 x 10 cells of pairs at 20,000 samples)."""
    data = make()
    base = data.kind.digits()
    stream = StackedStream(base.train, 2000, seed=0)
    rows = torch.cat([stream.next_index() for _ in range(10)])
    labels = base.labels["train"][rows]  # (20000, 3)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        joint = torch.bincount(labels[:, a] * 10 + labels[:, b], minlength=100).double().reshape(10, 10)
        expected = joint.sum(1, keepdim=True) * joint.sum(0, keepdim=True) / joint.sum()
        chi2 = float(((joint - expected) ** 2 / expected).sum())
        assert chi2 < 140, (a, b, chi2)  # 81 degrees of freedom: P(chi2 > 140) < 1e-4
    share = torch.bincount(labels.flatten(), minlength=10).double() / labels.numel()
    base_share = torch.bincount(base.labels["train"], minlength=10).double() / base.labels["train"].numel()
    assert torch.allclose(share, base_share, atol=0.01)


def test_no_label_of_a_triple_is_reachable_from_training_code():
    data = make()
    assert data.labels == {} and data.num_classes == 0, "the source itself carries no labels"
    stream = data.stream(16, seed=0)
    assert not any(isinstance(v, torch.Tensor) and v.dtype == torch.long and v.ndim == 1 for v in vars(stream).values())
    assert stream().dtype == torch.float32


def test_stack_puts_each_index_in_its_channel():
    digits = torch.arange(4.0).reshape(4, 1, 1, 1).expand(4, 1, 2, 2)
    x = stack(digits, torch.tensor([[0, 1, 2], [3, 3, 0]]))
    assert x.shape == (2, 3, 2, 2) and x[:, :, 0, 0].tolist() == [[0, 1, 2], [3, 3, 0]]
