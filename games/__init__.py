"""Games: the rules of an encounter between agents, registered under versioned ids."""

from __future__ import annotations

# The base class and helpers
from games.base import Game, Shape, all_frozen, balanced_accuracy, frozen

# Conformance
from games.checker import check_game

# The classic games
from games.classic import HingeGame, LSGANGame, MinimaxGame, NonSaturatingGame, WGANGPGame

# The gymnasium adapter
from games.env import GeneratorEnv, GeneratorVectorEnv

# Multi-player and policy-gradient games
from games.multi import GMANGame, MADGANGame, combine_losses

# The registry
from games.registration import make, register, registry
from games.reinforce import ReinforceGame

__all__ = [
    # base
    "Game",
    "Shape",
    "frozen",
    "all_frozen",
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
    # multi-player games
    "GMANGame",
    "MADGANGame",
    "combine_losses",
    # policy gradient through the gymnasium adapter
    "ReinforceGame",
    "GeneratorEnv",
    "GeneratorVectorEnv",
]

__gan_arena__ = True
"""Marks this package as gan-arena's: another distribution that installs an ``games`` package of its
own over it is found by :func:`arena.core.clash.check_own_packages`."""
