"""Agents: generators and discriminators, their networks, optimizers and latent priors."""

from __future__ import annotations

# Agents and their spaces
from agents.agent import LOGIT_SPACE, Agent, AveragedGenerator, CategoricalGenerator, Discriminator, Generator

# Conformance
from agents.checker import check_agent

# Weight averaging
from agents.ema import EMASpec, WeightAverage

# Families of generators that share a body
from agents.family import FamilyMember, FamilyNet, member_ids

# Latent priors
from agents.latent import LatentPrior, Normal, Uniform, latents

# Networks
from agents.networks import MLP, DCGANDiscriminator, DCGANGenerator, Maxout, MaxoutMLP, networks

# Optimizers
from agents.optim import AgentOptimizer, LRSchedule, lr_schedules, optimizers

# Drawing samples, evaluation mode
from agents.sampling import Sampler, draw_samples, evaluating

# Building from config
from agents.spec import AgentSpec, agent_names, build_agent

__all__ = [
    # agents
    "Agent",
    "Generator",
    "AveragedGenerator",
    "CategoricalGenerator",
    "Discriminator",
    "LOGIT_SPACE",
    # families
    "FamilyNet",
    "FamilyMember",
    "member_ids",
    # conformance
    "check_agent",
    # drawing samples
    "Sampler",
    "draw_samples",
    "evaluating",
    # weight averaging
    "EMASpec",
    "WeightAverage",
    # latent priors
    "LatentPrior",
    "Normal",
    "Uniform",
    "latents",
    # networks
    "MLP",
    "MaxoutMLP",
    "Maxout",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "networks",
    # optimizers
    "AgentOptimizer",
    "LRSchedule",
    "lr_schedules",
    "optimizers",
    # building
    "AgentSpec",
    "agent_names",
    "build_agent",
]

__gan_arena__ = True
"""Marks this package as gan-arena's: another distribution that installs an ``agents`` package of its
own over it is found by :func:`arena.core.clash.check_own_packages`."""
