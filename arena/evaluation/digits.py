"""Counting the modes of Stacked MNIST: a digit classifier reads each channel of a sample.

The classifier is a small CNN in the spirit of the Keras ``mnist_cnn`` PacGAN uses (conv 32,
conv 64, dense 128), with a 2 x 2 max-pool after each convolution, so that judging 25,600 samples
(76,800 digits) takes seconds on a CPU. It is trained deterministically (one thread, a fixed
seed) on the base digit set's training split, with random shifts of up to 2 pixels, and reports
its accuracy on the base's test split. The classifier of the bundled ``mnist5k`` ships with the
package (``weights/``, checked against its SHA-256), so every machine judges with the same
weights; any other base's is trained on first use and cached under
``~/.cache/gan-arena/classifiers`` (or ``$GAN_ARENA_CACHE``). A measurement names the classifier
by the recipe's version and a hash of its weights.

:func:`stacked_modes`: the triples of classified digits, the number of distinct triples (modes
covered, of 1,000) and KL(triple histogram || uniform) in nats (PacGAN's definitions,
REFERENCE.md). The KL has a sampling floor: n samples of a perfectly uniform generator read about
999 / (2 n), 0.02 at 25,600.

:func:`digit_balance`: where that KL comes from. It splits exactly into the channels' own digit
frequencies against uniform (the sum of three KLs over 10 digits: a generator that draws too many
8s) and what is left, the dependence between the channels (their total correlation: a generator
whose three digits come together); with the share of digits the classifier reads confidently,
which falls with blurred strokes that it reads as whichever digit they resemble most.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from arena.core.files import cache_dir, save_to_cache

__all__ = ["DigitClassifier", "digit_classifier", "classify_channels", "stacked_modes", "triple_counts",
           "read_channels", "digit_balance", "CLASSIFIER_VERSION"]

CLASSIFIER_VERSION = "digits-cnn/1"
"""The classifier's recipe (architecture, training); a change of recipe is a new version."""


class DigitClassifier(nn.Module):
    """``(N, 1, 28, 28)`` digits in [-1, 1] -> 10 logits: conv 32 -> pool -> conv 64 -> pool ->
    dense 128 -> 10, ReLU. Each ReLU follows its max-pool: ReLU is monotone, so the two commute
    exactly (the same numbers and gradients either way), and after the pool it reads a quarter of
    the values."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.MaxPool2d(2), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3), nn.MaxPool2d(2), nn.ReLU(inplace=True),
            nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _fingerprint(x: torch.Tensor, y: torch.Tensor) -> str:
    h = hashlib.sha256(CLASSIFIER_VERSION.encode())
    h.update(str(tuple(x.shape)).encode())
    h.update(x.float().cpu().contiguous().numpy().tobytes())
    h.update(y.cpu().numpy().tobytes())
    return h.hexdigest()[:16]


SHIPPED = {"efc1a1f7bf34065b": ("digits-cnn-mnist5k.pt", "bb4cfc1236b3fb0fb151fb1e455feaeac49980398ccfaf7b2f4d71e21a1665ae")}
"""Classifiers that ship with the package: base fingerprint -> (file in ``weights/``, SHA-256)."""
WEIGHTS = Path(__file__).with_name("weights")


def _shifted(x: torch.Tensor, g: torch.Generator, most: int = 2) -> torch.Tensor:
    """Each image moved by up to ``most`` pixels each way (the background, -1, fills in)."""
    h, w = x.shape[2:]
    padded = F.pad(x, (most, most, most, most), value=-1.0)
    offsets = torch.randint(0, 2 * most + 1, (x.shape[0], 2), generator=g)
    out = torch.empty_like(x)
    for dy in range(2 * most + 1):
        for dx in range(2 * most + 1):
            chosen = (offsets[:, 0] == dy) & (offsets[:, 1] == dx)
            out[chosen] = padded[chosen, :, dy : dy + h, dx : dx + w]
    return out


def train_digit_classifier(x: torch.Tensor, y: torch.Tensor, epochs: int = 12, seed: int = 0,
                           progress: Callable[[int, int], None] | None = None) -> DigitClassifier:
    """Adam (1e-3, halved for the last third), batch 64, ``epochs`` passes with random shifts, on
    one thread: the same weights for a seed whatever the machine's thread count."""
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.set_num_threads(1)
        torch.manual_seed(seed)
        model = DigitClassifier()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(seed)
        for epoch in range(epochs):
            if epoch == (2 * epochs) // 3:
                for group in opt.param_groups:
                    group["lr"] = 5e-4
            perm = torch.randperm(x.shape[0], generator=g)
            for i in range(0, x.shape[0], 64):
                idx = perm[i : i + 64]
                opt.zero_grad()
                F.cross_entropy(model(_shifted(x[idx], g)), y[idx]).backward()
                opt.step()
            if progress is not None:
                progress(epoch + 1, epochs)
        torch.set_num_threads(threads)
    return model.eval()


def _weights_hash(model: nn.Module) -> str:
    h = hashlib.sha256()
    for key, value in model.state_dict().items():
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def digit_classifier(base, cache: bool = True,
                     progress: Callable[[int, int], None] | None = None) -> tuple[DigitClassifier, float, str]:
    """The classifier of the digit set ``base`` (a labelled, single-channel :class:`DataSource`):
    the shipped one where ``base`` is the bundled subset, else trained once and then loaded from
    the cache. Returns it, its accuracy on ``base``'s test split and its name
    (``digits-cnn/1:<hash of its weights>``).

    Raises:
        ArenaError: a shipped classifier's file does not match its checksum.
    """
    from arena.core.errors import ArenaError

    x, y = base.train.cpu(), base.labels["train"].cpu()
    key = _fingerprint(x, y)
    model = DigitClassifier()
    shipped = SHIPPED.get(key)
    path = WEIGHTS / shipped[0] if shipped else cache_dir("classifiers") / f"digits-cnn-{key}.pt"
    if path.is_file() and (shipped or cache):
        payload = path.read_bytes()
        if shipped and shipped[1] and hashlib.sha256(payload).hexdigest() != shipped[1]:
            raise ArenaError(f"{path}: the shipped digit classifier does not match its checksum; reinstall gan-arena")
        model.load_state_dict(torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True))
        model.eval()
    else:
        model = train_digit_classifier(x, y, progress=progress)
        if cache and not shipped:
            save_to_cache(path, model.state_dict())
    with torch.no_grad():
        predicted = torch.cat([model(part).argmax(1) for part in base.test.cpu().split(2048)])
    accuracy = float((predicted == base.labels["test"].cpu()).float().mean())
    return model, accuracy, f"{CLASSIFIER_VERSION}:{_weights_hash(model)}"


def classify_channels(model: DigitClassifier, samples: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """The digit of each channel of ``samples`` ``(N, C, H, W)``: ``(N, C)`` int64, on the CPU.
    The classifier runs where the samples are (a copy of it on a GPU)."""
    return read_channels(model, samples, chunk)[0]


def read_channels(model: DigitClassifier, samples: torch.Tensor, chunk: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The digit of each channel of ``samples`` ``(N, C, H, W)`` and the classifier's probability
    for it: ``(N, C)`` int64 and ``(N, C)`` float32, on the CPU (as :func:`classify_channels`).
    ``chunk`` digits go through the network at once: by default 256 on a CPU, where a chunk's
    activations then stay in the caches (4,096 took twice as long on one core), and 4,096 on a GPU.
    (On this machine the logits came out bitwise the same at 256 and 4,096.)"""
    flat = samples.detach().float().reshape(-1, 1, *samples.shape[2:])
    here = model if flat.device.type == "cpu" else _on(model, flat.device)
    chunk = chunk or (256 if flat.device.type == "cpu" else 4096)
    with torch.no_grad():
        logits = torch.cat([here(part) for part in flat.split(chunk)])
        digits = logits.argmax(1)  # from the logits, exactly as before the probabilities were kept
        probability = logits.softmax(1).gather(1, digits.unsqueeze(1)).squeeze(1)
    shape = (samples.shape[0], samples.shape[1])
    return digits.cpu().reshape(shape), probability.float().cpu().reshape(shape)


_COPIES: dict[tuple[int, str], DigitClassifier] = {}


def _on(model: DigitClassifier, device: torch.device) -> DigitClassifier:
    key = (id(model), str(device))
    if key not in _COPIES:
        import copy

        _COPIES[key] = copy.deepcopy(model).to(device).eval()
    return _COPIES[key]


def triple_counts(digits: torch.Tensor) -> torch.Tensor:
    """How many samples fall on each of the 1,000 triples, from ``(N, 3)`` digits: float64 ``(1000,)``."""
    code = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
    return torch.bincount(code, minlength=1000).double()


def stacked_modes(digits: torch.Tensor) -> dict[str, float]:
    """Modes covered (triples produced by at least one sample, of 1,000) and KL(triple histogram ||
    uniform) = ln 1000 - H, in nats, from each sample's ``(N, 3)`` classified digits."""
    counts = triple_counts(digits)
    return {"modes": int((counts > 0).sum()), "kl": _kl_to_uniform(counts)}


def _kl_to_uniform(counts: torch.Tensor) -> float:
    """KL(the histogram ``counts`` || uniform over its bins) = ln(bins) - H, in nats."""
    p = counts / counts.sum()
    nz = p[p > 0]
    return max(math.log(counts.numel()) + float((nz * nz.log()).sum()), 0.0)


def digit_balance(digits: torch.Tensor, probability: torch.Tensor | None = None, confident: float = 0.9) -> dict[str, float]:
    """Where :func:`stacked_modes`' KL comes from, from ``(N, 3)`` classified digits:

    - ``kl_digits``: the sum over channels of KL(the channel's digit histogram || uniform over 10);
    - ``kl_coupling``: the rest of the KL, the channels' total correlation (sum of the channels'
      entropies minus the triples'; never negative). The two add up to the KL exactly;
    - ``most_drawn`` / ``least_drawn``: the digit drawn most and least often over all channels,
      with its share (``most_drawn_share``, ``least_drawn_share``; 0.1 each for uniform digits);
    - ``confident``: with ``probability`` (:func:`read_channels`), the share of digits the
      classifier gives at least ``confident``.
    """
    kl_digits = sum(_kl_to_uniform(torch.bincount(channel, minlength=10).double()) for channel in digits.T)
    share = torch.bincount(digits.flatten(), minlength=10).double() / digits.numel()
    out = {
        "kl_digits": kl_digits,
        "kl_coupling": max(stacked_modes(digits)["kl"] - kl_digits, 0.0),
        "most_drawn": int(share.argmax()),
        "most_drawn_share": float(share.max()),
        "least_drawn": int(share.argmin()),
        "least_drawn_share": float(share.min()),
    }
    if probability is not None:
        out["confident"] = float((probability >= confident).double().mean())
    return out
