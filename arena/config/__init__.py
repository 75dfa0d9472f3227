"""Typed run configs: YAML in, dataclasses out, every mistake named by file, line and key path.

:mod:`arena.config.sections` holds the dataclasses (one per section, a docstring per field;
the panel's, with its stages, in :mod:`arena.config.panel`),
:mod:`arena.config.safe_yaml` reads YAML that may be hostile, :mod:`arena.config.loading`
builds a checked config from it and applies ``--set`` overrides, and
:mod:`arena.core.origin` remembers where every value came from.

Exports are loaded lazily (PEP 562), so that reading YAML safely imports nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    # the config and its sections
    "RunConfig": "sections",
    "ScheduleConfig": "sections",
    "LogConfig": "sections",
    "ReviewConfig": "sections",
    "CheckpointConfig": "sections",
    "DivergenceConfig": "sections",
    "RatingsConfig": "sections",
    "SelectionConfig": "sections",
    "MutateConfig": "sections",
    "MixtureConfig": "sections",
    "ComputeConfig": "sections",
    "PanelConfig": "panel",
    "RefineConfig": "panel",
    "BalanceConfig": "panel",
    "SupportConfig": "panel",
    "RenoiseConfig": "panel",
    "LeagueConfig": "sections",
    "MAX_AGENTS": "sections",
    "MAX_EVAL_SAMPLES": "sections",
    # reading and writing
    "ConfigOrigin": "origin",
    "load_config": "loading",
    "parse_config": "loading",
    "apply_overrides": "loading",
    "config_to_dict": "loading",
    "dump_config": "loading",
    "read_config_text": "safe_yaml",
    "read_yaml": "safe_yaml",
    "inspect_yaml": "safe_yaml",
    "MAX_BYTES": "safe_yaml",
    "MAX_DEPTH": "safe_yaml",
    "MAX_NODES": "safe_yaml",
    "MAX_DIGITS": "safe_yaml",
}

__all__ = [
    "RunConfig",
    "ScheduleConfig",
    "LogConfig",
    "ReviewConfig",
    "CheckpointConfig",
    "DivergenceConfig",
    "RatingsConfig",
    "SelectionConfig",
    "MutateConfig",
    "MixtureConfig",
    "ComputeConfig",
    "PanelConfig",
    "RefineConfig",
    "BalanceConfig",
    "SupportConfig",
    "RenoiseConfig",
    "LeagueConfig",
    "MAX_AGENTS",
    "MAX_EVAL_SAMPLES",
    "ConfigOrigin",
    "load_config",
    "parse_config",
    "apply_overrides",
    "config_to_dict",
    "dump_config",
    "read_config_text",
    "read_yaml",
    "inspect_yaml",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_DIGITS",
]

if TYPE_CHECKING:  # pragma: no cover
    from arena.config.loading import apply_overrides, config_to_dict, dump_config, load_config, parse_config
    from arena.config.safe_yaml import MAX_BYTES, MAX_DEPTH, MAX_DIGITS, MAX_NODES, inspect_yaml, read_config_text, read_yaml
    from arena.config.sections import (
        MAX_AGENTS,
        MAX_EVAL_SAMPLES,
        BalanceConfig,
        CheckpointConfig,
        ComputeConfig,
        DivergenceConfig,
        LeagueConfig,
        LogConfig,
        MixtureConfig,
        MutateConfig,
        PanelConfig,
        RatingsConfig,
        RefineConfig,
        RenoiseConfig,
        ReviewConfig,
        RunConfig,
        ScheduleConfig,
        SelectionConfig,
        SupportConfig,
    )
    from arena.core.origin import ConfigOrigin


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        module = "arena.core.origin" if _WHERE[name] == "origin" else f"arena.config.{_WHERE[name]}"
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'arena.config' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
