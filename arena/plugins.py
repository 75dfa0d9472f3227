"""Every registry of plug-ins in one place: what ``arena list`` shows and what configs are
checked against. Each registry lives beside what it holds; this module only gathers them."""

from __future__ import annotations

from arena.core.errors import ArenaError
from arena.core.registry import Registry

__all__ = ["registries", "registry_of"]


def registries() -> dict[str, Registry]:
    """Every registry, by the title ``arena list`` gives it."""
    import games
    from agents import latents, lr_schedules, networks, optimizers
    from arena.data import sources
    from arena.evaluation.measure import metrics
    from arena.output.mixture import weightings
    from arena.tournament.judgements import judgements
    from arena.tournament.ratings import rating_systems
    from arena.tournament.schedules import schedules

    return {
        "games": games.registry,
        "networks": networks,
        "data sources": sources,
        "optimizers": optimizers,
        "learning-rate schedules": lr_schedules,
        "latent priors": latents,
        "schedules": schedules,
        "rating systems": rating_systems,
        "judgements": judgements,
        "mixture weightings": weightings,
        "metrics": metrics,
    }


def registry_of(kind: str) -> Registry:
    """The registry whose entries are of ``kind`` ("schedule", "rating system", ...)."""
    for registry in registries().values():
        if registry.kind == kind:
            return registry
    raise ArenaError(f"no registry of {kind}s")
