"""The game registry, in the manner of gymnasium's ``register``/``make``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from arena.core.errors import ConfigError
from arena.core.registry import Registry, build
from games.base import Game

__all__ = ["registry", "register", "make"]

ID_PATTERN = re.compile(r"^[a-z][a-z0-9\-]*-v\d+$")

registry: Registry[Game] = Registry("game", key="id")
"""Every registered game: ``registry.ids()`` lists them."""


def register(id: str, entry_point: str | Callable[..., Game], description: str = "", **kwargs: Any) -> None:
    """Register a game under a versioned id such as ``my-game-v0``.

    Args:
        id: ``name-vN``.
        entry_point: the game class, or ``"module:Class"`` imported on first use.
        description: one line for ``arena list``.
        **kwargs: default keyword arguments, overridable in :func:`make`.
    """
    if not ID_PATTERN.match(id):
        raise ValueError(f"game ids look like 'name-v0', got {id!r}")
    registry.register(id, entry_point, description, **kwargs)


def make(id: str, path: tuple = (), **kwargs: Any) -> Game:
    """Build the game registered as ``id`` with ``kwargs`` (checked against its constructor).

    Raises:
        UnknownId: no such game; the message lists the closest ids.
        ConfigError: a keyword the game does not take, or a bad value.
    """
    if "id" in kwargs:
        raise ConfigError("pass the id once", (*path, "id"))
    game = build({"id": id, **kwargs}, registry, path)
    if not isinstance(game, Game):
        raise ConfigError(f"{id!r} built a {type(game).__name__}, not a Game", (*path, "id"))
    game.id = id
    return game


register("minimax-v0", "games.classic:MinimaxGame", "Goodfellow et al. (2014) eq. 1: G minimises log(1 - D(G(z)))")
register("gan-v0", "games.classic:NonSaturatingGame", "the non-saturating GAN: G maximises log D(G(z))")
register("wgan-gp-v0", "games.classic:WGANGPGame", "Wasserstein GAN with gradient penalty (5 critic steps)")
register("hinge-v0", "games.classic:HingeGame", "hinge loss (SAGAN, SN-GAN)")
register("lsgan-v0", "games.classic:LSGANGame", "least squares GAN")
register("gman-v0", "games.multi:GMANGame", "GMAN: one generator against every discriminator, losses combined by a mean")
register("madgan-v0", "games.multi:MADGANGame", "MAD-GAN: every generator against one discriminator with k + 1 outputs")
register("reinforce-v0", "games.reinforce:ReinforceGame", "discrete generators trained by REINFORCE through the gymnasium adapter")
