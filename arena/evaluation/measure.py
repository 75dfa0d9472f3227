"""Metrics: the one registry, and measuring with it.

Every metric is registered in :data:`metrics` under an id and maps a :class:`Measurement` (the
data, the samples, a discriminator where it judges one) to named numbers. A data kind
(:mod:`arena.data.kinds`) names the ids that apply to it and exposes what it knows (modes,
symbols, a density) through typed accessors; this module is the only place that turns those ids
into numbers:

- :func:`sample_metrics`: the kind's ``metrics`` on any set of samples (a generator's, the
  mixture's, the output's);
- :func:`signal`: a generator's values at every review, ending with the ``quality`` signal;
- :func:`discriminator_signal`: each discriminator's check at every review (1-D data);
- :func:`truth`: the independent truth a league checks its ratings against;
- :func:`measure`: ``arena eval``'s metrics on fresh samples of a generator or a mixture.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch

from agents import Discriminator, draw_samples, evaluating
from arena.core.errors import ConfigError, UnknownId
from arena.core.registry import Registry
from arena.data import DataSource
from arena.data.kinds import Modes
from arena.evaluation.metrics import categorical_metrics, equilibrium, gaussian_kde, mode_metrics, mode_spread, mode_tv

__all__ = ["Measurement", "metrics", "applicable_metrics", "measure", "sample_metrics", "signal", "discriminator_signal",
           "truth"]


@dataclasses.dataclass
class Measurement:
    """What a metric reads: the data, the samples, a discriminator (for the checks of a
    discriminator), a progress reporter for long computations, and a cache shared by the
    metrics of one call."""

    data: DataSource
    samples: torch.Tensor | None
    discriminator: Discriminator | None = None
    progress: Callable[[str, int, int], None] | None = None
    cache: dict[str, Any] = dataclasses.field(default_factory=dict)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    """What a metric needs from the user: ``inception_weights`` (a file) and ``download`` (may fetch
    the Inception weights)."""

    def report(self, task: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(task, done, total)

    def modes(self) -> Modes:
        modes = self.data.kind.modes()
        if modes is None:
            raise ConfigError(f"{self.data.name} data has no known modes")
        return modes

    def symbols(self) -> list[float]:
        probs = self.data.kind.symbols()
        if probs is None:
            raise ConfigError(f"{self.data.name} data has no symbols")
        return probs


def _modes(m: Measurement) -> dict[str, float]:
    modes = m.modes()
    return mode_metrics(m.samples, modes.centers, modes.std)


def _spread(m: Measurement) -> dict[str, float]:
    modes = m.modes()
    return mode_spread(m.samples, modes.centers, modes.std)


def _mode_tv(m: Measurement) -> dict[str, float]:
    modes = m.modes()
    return mode_tv(m.samples, modes.centers, modes.std)


def _histogram(m: Measurement) -> dict[str, float]:
    return categorical_metrics(m.samples, m.symbols())


def _diversity(m: Measurement) -> dict[str, float]:
    from arena.evaluation.diagnostics import diversity

    return {"diversity": diversity(m.samples, m.data.test)}


def _discriminator(m: Measurement) -> Discriminator:
    if m.discriminator is None:
        raise ConfigError("this check judges a discriminator, and this run has none")
    return m.discriminator


def _equilibrium(m: Measurement) -> dict[str, float]:
    d = _discriminator(m)
    real = m.data.test
    with evaluating(d), torch.no_grad():
        d_real = torch.sigmoid(d(real)).flatten()
    p_data = m.data.kind.density(real)
    if p_data is None:
        raise ConfigError(f"{m.data.name} data has no density known in closed form")
    return equilibrium(d_real, p_data, gaussian_kde(m.samples.cpu(), real.cpu()).to(p_data.device))


def _d_equilibrium(m: Measurement) -> dict[str, float]:
    d = _discriminator(m)
    with evaluating(d), torch.no_grad():
        p = torch.sigmoid(d(m.data.test))
    gap = float((p - 0.5).abs().mean())
    return {"d_real": float(p.mean()), "d_gap": gap, "quality": 1 - 2 * gap}


_DIGIT_CLASSIFIERS: dict[int, tuple[Any, Any, float, str]] = {}
"""Digit classifiers of this process, by the id of their base digit set (a review measures every
generator with one; loading it from the cache once is enough)."""


def _digit_classifier(m: Measurement) -> tuple[Any, float, str]:
    from arena.evaluation.digits import digit_classifier

    base = m.data.kind.digits()
    if base is None:
        raise ConfigError(f"{m.data.name} data has no digits to count modes with")
    known = _DIGIT_CLASSIFIERS.get(id(base))
    if known is None or known[0] is not base:
        task = "digit classifier (trained once, then cached)"
        m.report(task, 0, 1)
        model, accuracy, name = digit_classifier(base, progress=lambda done, total: m.report(task, done, total))
        m.report(task, 1, 1)
        known = _DIGIT_CLASSIFIERS[id(base)] = (base, model, accuracy, name)
    return known[1], known[2], known[3]


def _digit_reads(m: Measurement) -> tuple[torch.Tensor, torch.Tensor]:
    """Each channel's digit and the classifier's probability for it, read once per measurement."""
    if "digit_reads" not in m.cache:
        from arena.evaluation.digits import read_channels

        m.cache["digit_reads"] = read_channels(_digit_classifier(m)[0], m.samples)
    return m.cache["digit_reads"]


def _stacked_modes(m: Measurement) -> dict[str, Any]:
    from arena.evaluation.digits import stacked_modes

    _, accuracy, name = _digit_classifier(m)
    return {**stacked_modes(_digit_reads(m)[0]), "classifier_accuracy": accuracy, "classifier": name}


def _stacked_digits(m: Measurement) -> dict[str, Any]:
    from arena.evaluation.digits import digit_balance

    return digit_balance(*_digit_reads(m))


def _parzen_splits(data: DataSource) -> tuple[torch.Tensor, torch.Tensor]:
    """Validation (sigma selection) and test splits: ``valid`` where the data has one (MNIST
    train[50000:60000]); otherwise the last 1,000 (at most a fifth) of the training split."""
    if "valid" in data.splits:
        return data.splits["valid"][:1000], data.test
    n = min(1000, data.train.shape[0] // 5)
    return data.train[-n:], data.test


def _parzen(m: Measurement) -> dict[str, float]:
    from arena.evaluation.parzen import parzen_estimate

    valid, test = _parzen_splits(m.data)
    total, done = valid.shape[0] + test.shape[0], 0

    def step(k: int) -> None:
        nonlocal done
        done += k
        m.report("parzen window", done, total)

    return parzen_estimate(m.samples, valid, test, progress=step)


def _features(m: Measurement) -> dict[str, Any]:
    """The classifier (trained once per data set, then cached) and both feature sets, shared by
    the classifier-based metrics of one measurement."""
    if "features" not in m.cache:
        from arena.evaluation.features import classifier_for

        task = f"classifier for {m.data.name} (trained once, then cached)"
        m.report(task, 0, 1)
        model, accuracy = classifier_for(m.data, progress=lambda done, total: m.report(task, done, total))
        m.report(task, 1, 1)
        with torch.no_grad():
            fake, real = m.samples.cpu(), m.data.test.cpu()
            f_fake, f_real = model.features(fake), model.features(real)
        m.cache["features"] = {"model": model, "accuracy": accuracy, "fake": f_fake, "real": f_real}
    return m.cache["features"]


def _fd(m: Measurement) -> dict[str, float]:
    from arena.evaluation.features import frechet_distance

    f = _features(m)
    return {"classifier_accuracy": f["accuracy"], "fd": frechet_distance(f["real"], f["fake"])}


def _precision_recall(m: Measurement) -> dict[str, float]:
    from arena.evaluation.geometry import precision_recall

    f = _features(m)
    n = min(f["real"].shape[0], f["fake"].shape[0], 5000)
    return {"classifier_accuracy": f["accuracy"], **precision_recall(f["real"][:n], f["fake"][:n])}


def _coverage(m: Measurement) -> dict[str, float]:
    from arena.evaluation.features import class_coverage

    f = _features(m)
    with torch.no_grad():
        predicted = f["model"].head(f["fake"]).argmax(1)
    return {"classifier_accuracy": f["accuracy"], **class_coverage(predicted, m.data.num_classes)}


def _inception(m: Measurement) -> dict[str, Any]:
    """The Inception extractor and both feature sets, shared by ``fid_inception`` and ``kid_inception``."""
    if "inception" not in m.cache:
        from arena.evaluation import inception

        device = m.samples.device
        model = inception.extractor(m.options.get("inception_weights"), bool(m.options.get("download")), device)
        if m.samples.shape[0] <= model.dim:
            raise ConfigError(f"-n: Inception FID needs more samples than its {model.dim:,} features for a full-rank "
                              f"covariance, got {m.samples.shape[0]:,}; 10,000 is the least papers report")
        task = "Inception features of the real images (cached after)"
        real, split = inception.reference_features(model, m.data, device, lambda done, total: m.report(task, done, total))
        fake = inception.extract(model, inception.to_uint8_rgb(m.samples, m.data.shape, m.data.low, m.data.high), device,
                                 lambda done, total: m.report("Inception features of the samples", done, total))
        m.cache["inception"] = {"real": real, "fake": fake, "stamp": {"extractor": model.name,
                                                                      "reference": f"{split} ({real.shape[0]:,})"}}
    return m.cache["inception"]


def _fid_inception(m: Measurement) -> dict[str, Any]:
    from arena.evaluation.features import frechet_distance

    f = _inception(m)
    return {"fid_inception": frechet_distance(f["real"], f["fake"]), **f["stamp"]}


def _kid_inception(m: Measurement) -> dict[str, Any]:
    from arena.evaluation.inception import kernel_distance

    f = _inception(m)
    mean, std = kernel_distance(f["real"], f["fake"])
    return {"kid_inception": mean, "kid_inception_std": std, **f["stamp"]}


metrics: Registry[dict[str, float]] = Registry("metric")
"""Every metric; each maps a :class:`Measurement` to named numbers."""
metrics.register("modes", _modes, "modes covered, % high quality, reverse KL (toy mixtures; PacGAN's definitions)")
metrics.register("spread", _spread, "spread of the high-quality samples about their centres over the data's own (1: as the data; "
                 "below 1: modes contracted; toy mixtures)")
metrics.register("mode_tv", _mode_tv, "total variation from the data over its modes and off them (blur, missing and uneven modes "
                 "on one scale; toy mixtures)")
metrics.register("equilibrium", _equilibrium, "mean |D(x) - 1/2| and mean |D(x) - D*(x)| on real data (known 1-D density)")
metrics.register("d_equilibrium", _d_equilibrium, "a discriminator's mean D(x) on held-out real data and its distance from "
                 "the equilibrium's 1/2 (1-D data; every review)")
metrics.register("histogram", _histogram, "total variation from the data's symbol probabilities, symbols drawn (categorical data)")
metrics.register("diversity", _diversity, "mean pairwise distance of samples over the held-out data's (images; every review)")
metrics.register("stacked_modes", _stacked_modes, "modes covered of 1,000 and KL(triple histogram || uniform) in nats, "
                 "each channel read by a digit classifier trained on the base digits (Stacked MNIST; PacGAN's protocol)")
metrics.register("stacked_digits", _stacked_digits, "where Stacked MNIST's KL comes from: the channels' digit frequencies "
                 "(kl_digits), their dependence (kl_coupling), the digits drawn most and least, the share read confidently "
                 "(on request)")
metrics.register("parzen", _parzen, "Gaussian Parzen-window log-likelihood of the test split (images; the paper's protocol)")
metrics.register("fd", _fd, "Frechet distance on a small classifier's features (labelled images)")
metrics.register("precision_recall", _precision_recall, "k-NN precision and recall on the classifier's features (labelled images)")
metrics.register("coverage", _coverage, "classes covered and KL(class histogram || uniform) (labelled images)")
metrics.register("fid_inception", _fid_inception, "Frechet Inception distance as papers report it (torch-fidelity's "
                 "TF-compatible Inception, pool3; on request: needs the weights, arena eval --download; images)")
metrics.register("kid_inception", _kid_inception, "kernel Inception distance, mean and s.d. over 100 subsets of 1,000 "
                 "(torch-fidelity's definition; on request, as fid_inception; images)")


def _measure(ids: Sequence[str], m: Measurement) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in ids:
        out.update(metrics.factory(name)(m))
    return out


def sample_metrics(data: DataSource, samples: torch.Tensor) -> dict[str, float]:
    """The data kind's ``metrics`` on ``samples`` (a generator's, the mixture's, the output's)."""
    return _measure(data.kind.metrics, Measurement(data, samples))


def signal(data: DataSource, samples: torch.Tensor) -> dict[str, float]:
    """A generator's values at a review: the kind's ``signal_metrics``, ending with ``quality``
    (a progress signal that is not a loss); empty where the data defines none."""
    values = _measure(data.kind.signal_metrics, Measurement(data, samples))
    quality = data.kind.quality(values) if values else None
    if quality is not None:
        values["quality"] = quality
    return values


def truth(data: DataSource, samples: torch.Tensor) -> dict[str, float]:
    """The kind's ``truth_metrics`` on ``samples``: what judges a generator's true quality."""
    return _measure(data.kind.truth_metrics, Measurement(data, samples))


def discriminator_signal(data: DataSource, discriminators: Sequence[Discriminator]) -> list[tuple[str, dict[str, float]]]:
    """Each discriminator's values at a review, by name (the kind's ``discriminator_metrics``;
    discriminators that emit one logit)."""
    ids = data.kind.discriminator_metrics(data)
    if not ids:
        return []
    return [(d.name, _measure(ids, Measurement(data, None, d))) for d in discriminators if d.action_space.shape == (1,)]


def applicable_metrics(data: DataSource) -> list[str]:
    """The ``arena eval`` metric ids that apply to ``data`` (its kind decides)."""
    return data.kind.eval_metrics(data)


def measure(
    data: DataSource,
    generator: Any,
    names: list[str] | None = None,
    n: int | None = None,
    seed: int = 0,
    discriminator: Discriminator | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Compute the metrics ``names`` (default: every applicable one but those measured only on
    request, as Inception FID) on ``n`` fresh samples of ``generator`` (a generator or a mixture).

    Args:
        n: samples (default 2,500; 10,000 where the Parzen estimate is asked for, as in the paper,
            or Inception FID or KID; 25,600 for Stacked MNIST's modes, as in PacGAN).
        seed: seed of the latent draws (the same draws as ``arena sample --seed``).
        discriminator: for the equilibrium check.
        progress: called as ``progress(task, done, total)`` during long computations.
        options: :attr:`Measurement.options` (the Inception weights, whether they may be downloaded).
    """
    available = applicable_metrics(data)
    allowed = [*available, *data.kind.requested_metrics(data)]
    names = [name.replace("-", "_") for name in names] if names else available  # fid-inception reads as fid_inception
    for name in names:
        if name not in metrics:
            try:
                metrics.entry(name)
            except UnknownId as exc:
                raise ConfigError(f"--metrics: {exc.message}") from None
        if name not in allowed:
            raise ConfigError(f"--metrics: {name!r} does not apply to {data.name} data (applicable: {', '.join(allowed) or 'none'})")
    many = "parzen" in names or "fid_inception" in names or "kid_inception" in names
    n = n or (25_600 if {"stacked_modes", "stacked_digits"} & set(names) else 10_000 if many else 2500)
    m = Measurement(data, draw_samples(generator, n, seed), discriminator, progress, options=dict(options or {}))
    return {"samples": n, **_measure(names, m)}
