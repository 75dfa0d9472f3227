"""``arena eval``: the metrics a run's data defines, for one generator, on fresh samples.

Which metrics apply depends on the data: mode metrics on toy mixtures, the equilibrium check
on ``gaussian1d``, the Parzen-window log-likelihood on images, and the classifier-based metrics
(Frechet distance, precision, recall, class coverage) on labelled images.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from agents import Discriminator, Generator
from arena.engine.arena import Arena
from arena.core.errors import ConfigError
from arena.evaluation.metrics import categorical_metrics, equilibrium, gaussian_kde, mode_metrics

__all__ = ["METRICS", "applicable_metrics", "draw_samples", "evaluate"]

METRICS = {
    "modes": "modes covered, % high quality, reverse KL (toy mixtures; PacGAN's definitions)",
    "equilibrium": "mean |D(x) - 1/2| and mean |D(x) - D*(x)| on real data (gaussian1d)",
    "parzen": "Gaussian Parzen-window log-likelihood of the test split (images; the paper's protocol)",
    "fd": "Frechet distance on a small classifier's features (labelled images)",
    "precision_recall": "k-NN precision and recall on the classifier's features (labelled images)",
    "coverage": "classes covered and KL(class histogram || uniform) (labelled images)",
    "histogram": "total variation from the data's symbol probabilities, symbols drawn (categorical data)",
}


def applicable_metrics(arena: Arena) -> list[str]:
    data = arena.data
    if data.modes is not None:
        return ["modes"]
    if data.name == "gaussian1d":
        return ["equilibrium"]
    if data.kind == "categorical":
        return ["histogram"]
    if data.kind == "images":
        return ["parzen", *(["fd", "precision_recall", "coverage"] if data.labels else [])]
    return []


def draw_samples(generator: Generator, n: int, seed: int, batch: int = 2500) -> torch.Tensor:
    """``n`` samples in eval mode, from a random stream of their own (``seed``), in batches of
    ``batch``; the generator's mode and its own stream are left as they were. With ``n <= batch``
    these are exactly the samples of ``arena sample -n n --seed seed``."""
    was_training = generator.training
    generator.eval()
    rng = torch.Generator(device=generator.device).manual_seed(seed)
    try:
        with torch.no_grad():
            parts = [generator.sample(min(batch, n - i), rng) for i in range(0, n, batch)]
    finally:
        generator.train(was_training)
    return torch.cat(parts)


def _parzen_splits(arena: Arena) -> tuple[torch.Tensor, torch.Tensor]:
    """Validation (sigma selection) and test splits: ``valid`` where the data has one (MNIST
    train[50000:60000]); otherwise the last 1,000 (at most a fifth) of the training split."""
    data = arena.data
    if "valid" in data.splits:
        return data.splits["valid"][:1000], data.test
    n = min(1000, data.train.shape[0] // 5)
    return data.train[-n:], data.test


def evaluate(
    arena: Arena,
    generator: Generator,
    metrics: list[str] | None = None,
    n: int | None = None,
    seed: int = 0,
    discriminator: Discriminator | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, float]:
    """Compute ``metrics`` (default: every applicable one) on ``n`` fresh samples of ``generator``.

    Args:
        n: samples (default 2,500; 10,000 where the Parzen estimate is asked for, as in the paper).
        seed: seed of the latent draws.
        discriminator: for the equilibrium check (default: the first discriminator).
        progress: called as ``progress(task, done, total)`` during long computations.
    """
    available = applicable_metrics(arena)
    metrics = metrics or available
    for m in metrics:
        if m not in METRICS:
            raise ConfigError(f"--metrics: unknown metric {m!r} (known: {', '.join(METRICS)})")
        if m not in available:
            raise ConfigError(
                f"--metrics: {m!r} does not apply to {arena.data.name} data (applicable: {', '.join(available) or 'none'})"
            )
    n = n or (10_000 if "parzen" in metrics else 2500)
    samples = draw_samples(generator, n, seed)
    data = arena.data
    out: dict[str, float] = {"samples": n}
    if "modes" in metrics:
        out.update(mode_metrics(samples, data.modes, data.mode_std))
    if "histogram" in metrics:
        out.update(categorical_metrics(samples, data.info["probs"]))
    if "equilibrium" in metrics:
        d = discriminator or arena.discriminators[0]
        d.eval()
        real = data.test
        with torch.no_grad():
            d_real = torch.sigmoid(d(real)).flatten()
        mean, std = float(data.info["mean"]), float(data.info["std"])
        p_data = torch.exp(-0.5 * ((real.flatten().double() - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
        out.update(equilibrium(d_real, p_data, gaussian_kde(samples.cpu(), real.cpu()).to(p_data.device)))
    if "parzen" in metrics:
        from arena.evaluation.parzen import parzen_estimate

        valid, test = _parzen_splits(arena)
        total, done = valid.shape[0] + test.shape[0], 0

        def step(k: int) -> None:
            nonlocal done
            done += k
            if progress:
                progress("parzen window", done, total)

        out.update(parzen_estimate(samples, valid, test, progress=step))
    if {"fd", "precision_recall", "coverage"} & set(metrics):
        from arena.evaluation.features import class_coverage, classifier_for, frechet_distance, precision_recall

        if progress:
            progress(f"classifier for {data.name} (trained once, then cached)", 0, 1)
        model, accuracy = classifier_for(data)
        out["classifier_accuracy"] = accuracy
        with torch.no_grad():
            fake = samples.cpu()
            real = data.test.cpu()
            f_fake, f_real = model.features(fake), model.features(real)
            if "fd" in metrics:
                out["fd"] = frechet_distance(f_real, f_fake)
            if "precision_recall" in metrics:
                m = min(f_real.shape[0], f_fake.shape[0], 5000)
                out.update(precision_recall(f_real[:m], f_fake[:m]))
            if "coverage" in metrics:
                out.update(class_coverage(model.head(f_fake).argmax(1), data.num_classes))
    return out
