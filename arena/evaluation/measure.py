"""The metrics of ``arena eval``: what a run's data defines, measured on fresh samples.

Metrics are registered in :data:`metrics`; the data's kind (:mod:`arena.data.kinds`) says which
apply: mode metrics on toy mixtures, the equilibrium check on a known 1-D density, total
variation on categorical data, the Parzen-window log-likelihood on images, and the
classifier-based metrics (Frechet distance, precision, recall, class coverage) on labelled
images.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from agents import Discriminator
from arena.core.errors import ConfigError, UnknownId
from arena.core.registry import Registry
from arena.data import DataSource
from arena.evaluation.metrics import categorical_metrics, equilibrium, gaussian_kde, mode_metrics, mode_spread, mode_tv
from arena.evaluation.sampling import draw_samples

__all__ = ["Measurement", "metrics", "applicable_metrics", "measure"]


@dataclasses.dataclass
class Measurement:
    """What a metric reads: the data, the samples, a discriminator (for the equilibrium check),
    a progress reporter for long computations, and a cache shared by the metrics of one call."""

    data: DataSource
    samples: torch.Tensor
    discriminator: Discriminator | None = None
    progress: Callable[[str, int, int], None] | None = None
    cache: dict[str, Any] = dataclasses.field(default_factory=dict)

    def report(self, task: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(task, done, total)


def _modes(m: Measurement) -> dict[str, float]:
    kind = m.data.kind
    return mode_metrics(m.samples, kind.centers, kind.std)


def _spread(m: Measurement) -> dict[str, float]:
    kind = m.data.kind
    return mode_spread(m.samples, kind.centers, kind.std)


def _mode_tv(m: Measurement) -> dict[str, float]:
    kind = m.data.kind
    return mode_tv(m.samples, kind.centers, kind.std)


def _histogram(m: Measurement) -> dict[str, float]:
    return categorical_metrics(m.samples, m.data.kind.probs)


def _equilibrium(m: Measurement) -> dict[str, float]:
    if m.discriminator is None:
        raise ConfigError("the equilibrium check needs a discriminator, and this run has none")
    d = m.discriminator
    d.eval()
    real = m.data.test
    with torch.no_grad():
        d_real = torch.sigmoid(d(real)).flatten()
    p_data = m.data.kind.density(real)
    return equilibrium(d_real, p_data, gaussian_kde(m.samples.cpu(), real.cpu()).to(p_data.device))


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
    from arena.evaluation.features import precision_recall

    f = _features(m)
    n = min(f["real"].shape[0], f["fake"].shape[0], 5000)
    return {"classifier_accuracy": f["accuracy"], **precision_recall(f["real"][:n], f["fake"][:n])}


def _coverage(m: Measurement) -> dict[str, float]:
    from arena.evaluation.features import class_coverage

    f = _features(m)
    with torch.no_grad():
        predicted = f["model"].head(f["fake"]).argmax(1)
    return {"classifier_accuracy": f["accuracy"], **class_coverage(predicted, m.data.num_classes)}


metrics: Registry[dict[str, float]] = Registry("metric")
"""Every ``arena eval`` metric; each maps a :class:`Measurement` to named numbers."""
metrics.register("modes", _modes, "modes covered, % high quality, reverse KL (toy mixtures; PacGAN's definitions)")
metrics.register("spread", _spread, "spread of the high-quality samples about their centres over the data's own (1: as the data; "
                 "below 1: modes contracted; toy mixtures)")
metrics.register("mode_tv", _mode_tv, "total variation from the data over its modes and off them (blur, missing and uneven modes "
                 "on one scale; toy mixtures)")
metrics.register("equilibrium", _equilibrium, "mean |D(x) - 1/2| and mean |D(x) - D*(x)| on real data (known 1-D density)")
metrics.register("histogram", _histogram, "total variation from the data's symbol probabilities, symbols drawn (categorical data)")
metrics.register("parzen", _parzen, "Gaussian Parzen-window log-likelihood of the test split (images; the paper's protocol)")
metrics.register("fd", _fd, "Frechet distance on a small classifier's features (labelled images)")
metrics.register("precision_recall", _precision_recall, "k-NN precision and recall on the classifier's features (labelled images)")
metrics.register("coverage", _coverage, "classes covered and KL(class histogram || uniform) (labelled images)")


def applicable_metrics(data: DataSource) -> list[str]:
    """The metric ids that apply to ``data`` (its kind decides)."""
    return data.kind.eval_metrics(data)


def measure(
    data: DataSource,
    generator: Any,
    names: list[str] | None = None,
    n: int | None = None,
    seed: int = 0,
    discriminator: Discriminator | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, float]:
    """Compute the metrics ``names`` (default: every applicable one) on ``n`` fresh samples of
    ``generator`` (a generator or a mixture).

    Args:
        n: samples (default 2,500; 10,000 where the Parzen estimate is asked for, as in the paper).
        seed: seed of the latent draws (the same draws as ``arena sample --seed``).
        discriminator: for the equilibrium check.
        progress: called as ``progress(task, done, total)`` during long computations.
    """
    available = applicable_metrics(data)
    names = names or available
    for name in names:
        if name not in metrics:
            try:
                metrics.entry(name)
            except UnknownId as exc:
                raise ConfigError(f"--metrics: {exc.message}") from None
        if name not in available:
            raise ConfigError(f"--metrics: {name!r} does not apply to {data.name} data (applicable: {', '.join(available) or 'none'})")
    n = n or (10_000 if "parzen" in names else 2500)
    m = Measurement(data, draw_samples(generator, n, seed), discriminator, progress)
    out: dict[str, float] = {"samples": n}
    for name in names:
        out.update(metrics.factory(name)(m))
    return out
