"""Games: the rules of an encounter between agents, registered under versioned ids."""

from __future__ import annotations

# The base class and helpers
from games.base import Game, balanced_accuracy, frozen

# Conformance
from games.checker import check_game

# The classic games
from games.classic import HingeGame, LSGANGame, MinimaxGame, NonSaturatingGame, WGANGPGame

# The registry
from games.registration import make, register, registry

__all__ = [
    # base
    "Game",
    "frozen",
    "balanced_accuracy",
    # registry
    "make",
    "register",
    "registry",
    # conformance
    "check_game",
    # classic games
    "MinimaxGame",
    "NonSaturatingGame",
    "WGANGPGame",
    "HingeGame",
    "LSGANGame",
]
