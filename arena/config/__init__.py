"""Typed run configs: YAML in, dataclasses out, every mistake named by file, line and key path.

:mod:`arena.config.sections` holds the dataclasses (one per section, a docstring per field),
:mod:`arena.config.loading` reads YAML safely and applies ``--set`` overrides, and
:mod:`arena.config.origin` remembers where every value came from.
"""

from arena.config.loading import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_NODES,
    apply_overrides,
    config_to_dict,
    dump_config,
    inspect_yaml,
    load_config,
    parse_config,
    read_yaml,
)
from arena.config.origin import ConfigOrigin
from arena.config.sections import (
    MAX_AGENTS,
    MAX_EVAL_SAMPLES,
    CheckpointConfig,
    ComputeConfig,
    DivergenceConfig,
    EvalConfig,
    LogConfig,
    MixtureConfig,
    MutateConfig,
    RatingsConfig,
    RunConfig,
    ScheduleConfig,
    SelectionConfig,
)

__all__ = [
    # the config and its sections
    "RunConfig",
    "ScheduleConfig",
    "LogConfig",
    "EvalConfig",
    "CheckpointConfig",
    "DivergenceConfig",
    "RatingsConfig",
    "SelectionConfig",
    "MutateConfig",
    "MixtureConfig",
    "ComputeConfig",
    # reading and writing
    "ConfigOrigin",
    "load_config",
    "parse_config",
    "read_yaml",
    "inspect_yaml",
    "apply_overrides",
    "config_to_dict",
    "dump_config",
    # limits
    "MAX_AGENTS",
    "MAX_EVAL_SAMPLES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_DIGITS",
]
