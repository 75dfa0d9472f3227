"""How a number was measured: every recorded metric carries its protocol, so that numbers
measured differently are never compared as if they were alike (``arena compare`` refuses to).

A protocol names the number of samples, the seed of their latent draws (``"derived"`` for the
evaluations during training, whose seeds derive from the run's seed, the agent and the matching),
the split of the real data that metrics compare with, and the evaluator's version, which changes
whenever the definition of a metric changes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EVALUATOR", "protocol", "same_protocol", "describe"]

EVALUATOR = "gan-arena-metrics/1"
"""The version of the metrics' definitions (PacGAN's toy metrics, the Parzen protocol, the
classifier features of :mod:`arena.evaluation.features`)."""


def protocol(samples: int, seed: int | str, split: str = "test", classifier: str | None = None,
             extractor: str | None = None, reference: str | None = None) -> dict[str, Any]:
    """The protocol of a measurement of ``samples`` samples drawn with ``seed`` (and judged by the
    named ``classifier``, where a metric reads one; by the named feature ``extractor`` against the
    ``reference`` images, where a metric compares features, as Inception FID does)."""
    out = {"samples": int(samples), "seed": seed, "split": split, "evaluator": EVALUATOR}
    for key, value in (("classifier", classifier), ("extractor", extractor), ("reference", reference)):
        if value is not None:
            out[key] = value
    return out


def same_protocol(a: dict[str, Any] | None, b: dict[str, Any] | None,
                  keys: tuple[str, ...] = ("samples", "split", "evaluator", "classifier", "extractor", "reference")) -> bool:
    """Whether two protocols measure alike (by default the seed may differ: a different draw of
    the same kind of sample)."""
    if a is None or b is None:
        return a is b
    return all(a.get(k) == b.get(k) for k in keys)


def describe(p: dict[str, Any] | None) -> str:
    """One line naming everything a protocol holds."""
    if not p:
        return "no recorded protocol"
    text = f"{p.get('samples')} samples, seed {p.get('seed')}, split {p.get('split')}, {p.get('evaluator')}"
    if p.get("classifier"):
        text += f", classifier {p['classifier']}"
    if p.get("extractor"):
        text += f", features of {p['extractor']} against {p.get('reference')} real images"
    return text
