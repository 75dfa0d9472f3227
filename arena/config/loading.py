"""Reading configs: YAML text in, a checked :class:`RunConfig` out, every mistake named by file,
line and key path. The text is read by :mod:`arena.config.safe_yaml`, which refuses hostile
input before it can cost time or memory; the same checks apply to every ``--set`` value.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from arena.config.safe_yaml import LOADER, read_config_text, read_yaml
from arena.config.sections import RunConfig
from arena.core.errors import ConfigError
from arena.core.origin import ConfigOrigin
from arena.core.typecheck import parse_dataclass

__all__ = ["load_config", "parse_config", "apply_overrides", "config_to_dict", "dump_config"]

def _line_map(text: str) -> dict[tuple, int]:
    """Key path -> 1-based line of its value, from the YAML node tree (of checked text)."""
    lines: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    continue
                walk(value, (*path, key.value))
                lines[(*path, key.value)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    try:
        root = yaml.compose(text, Loader=LOADER)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, ())
    return lines


def _parse_key(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", key):
        if token.startswith("["):
            parts.append(int(token[1:-1]))
        elif token.isdigit():
            parts.append(int(token))
        else:
            parts.append(token)
    return parts


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str]) -> list[tuple]:
    """Apply ``key.path=value`` overrides (values read as YAML) in place to a raw config mapping.

    ``agents.0.optim.lr=1e-3`` and ``agents[0].optim.lr=1e-3`` are the same key path.
    Returns the key paths that were set.
    """
    done: list[tuple] = []
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected key.path=value, got {item!r}", file="--set")
        path = _parse_key(key.strip())
        if not path:
            raise ConfigError(f"expected key.path=value, got {item!r}", file="--set")
        try:
            value = read_yaml(text, "--set")
        except ConfigError as exc:
            raise ConfigError(f"cannot read value {text!r}: {exc.message}", path, file="--set") from None
        node: Any = raw
        for i, part in enumerate(path[:-1]):
            if isinstance(part, int):
                if not isinstance(node, list) or not -len(node) <= part < len(node):
                    raise ConfigError(f"no item {part} here", path[: i + 1], file="--set")
                node = node[part]
            else:
                if not isinstance(node, dict):
                    raise ConfigError("not a mapping", path[:i], file="--set")
                node = node.setdefault(part, {})
        last = path[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or not -len(node) <= last < len(node):
                raise ConfigError(f"no item {last} here", path, file="--set")
        elif not isinstance(node, dict):
            raise ConfigError("not a mapping", path[:-1], file="--set")
        node[last] = value
        done.append(tuple(path))
    return done


_MOVED = {("eval",): ("review",), ("compute", "matchings"): ("compute", "execution"), ("ratings", "judge"): ("ratings", "judgement")}
"""Keys renamed in 0.2, by their old key path: configs and run directories written before keep
working for one release, with a warning."""
_PANEL_FLAT = ("refine_steps", "refine_lr", "refine_to", "balance_acceptance", "balance_bandwidth")


def upgrade(raw: dict[str, Any], source: str = "<config>") -> dict[str, Any]:
    """Map the keys of an older config to their current places, in place, with one
    ``FutureWarning`` naming each old key and its new one: ``eval`` is ``review``,
    ``compute.execution`` is ``compute.execution``, and the panel's flat stage keys
    (``refine_steps``, ``balance: true``, ``support: 3``, ...) are its nested stages
    (``refine: {steps}``, ``balance: {}``, ``support: {neighbours: 3}``, ...).

    Raises:
        ConfigError: an old key and its new one are both set.
    """
    moved: list[str] = []
    for old, new in _MOVED.items():
        parent = raw
        for part in old[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or old[-1] not in parent:
            continue
        if new[-1] in parent:
            if isinstance(parent[old[-1]], dict) and isinstance(parent[new[-1]], dict) and \
                    not parent[old[-1]].keys() & parent[new[-1]].keys():  # e.g. --set eval.x on a file with review
                parent[new[-1]].update(parent.pop(old[-1]))
                moved.append(f"{'.'.join(old)} is now {'.'.join(new)}")
                continue
            raise ConfigError(f"{'.'.join(old)} is the old name of {'.'.join(new)}; set only {'.'.join(new)}", old)
        parent[new[-1]] = parent.pop(old[-1])
        moved.append(f"{'.'.join(old)} is now {'.'.join(new)}")
    panel = raw.get("panel")
    if isinstance(panel, dict):
        moved += _upgrade_panel(panel)
    if moved:
        warnings.warn(f"{source}: {'; '.join(moved)}; the old names go in the next release", FutureWarning, stacklevel=3)
    return raw


def _upgrade_panel(panel: dict[str, Any]) -> list[str]:
    moved = []
    refine = {new: panel.pop(f"refine_{new}") for new in ("steps", "lr", "to") if f"refine_{new}" in panel}
    if refine:
        if not isinstance(panel.get("refine", {}), dict):
            raise ConfigError("refine_* are the old names of the refine section; set only refine", ("panel", "refine"))
        panel["refine"] = {**panel.get("refine", {}), **refine}
        moved.append(", ".join(f"panel.refine_{k}" for k in refine) + " are now panel.refine." + ", ".join(refine))
    balance = {new: panel.pop(f"balance_{new}") for new in ("acceptance", "bandwidth") if f"balance_{new}" in panel}
    if isinstance(panel.get("balance"), bool):
        panel["balance"] = balance if panel["balance"] else None
        moved.append("panel.balance: true/false is now a balance section (balance: {acceptance: ...}) or none")
    elif balance and isinstance(panel.get("balance"), dict):
        panel["balance"] = {**panel["balance"], **balance}
    for stage, key in (("support", "neighbours"), ("renoise", "neighbours")):
        value = panel.get(stage)
        if isinstance(value, int) and not isinstance(value, bool):
            panel[stage] = {key: value} if value else None
            moved.append(f"panel.{stage}: N is now panel.{stage}: {{{key}: N}}")
    return moved


def parse_config(raw: Any, origin: ConfigOrigin | None = None) -> RunConfig:
    """Check a raw mapping and build a :class:`RunConfig`; errors name the file and the line.

    The returned config carries its :class:`ConfigOrigin` as ``config.origin``, so errors found
    later (when the arena builds what the config names) are located the same way.
    """
    origin = origin or ConfigOrigin("<config>")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"expected a mapping at the top level, got {type(raw).__name__}", file=origin.source)
    try:
        config = parse_dataclass(RunConfig, upgrade(copy.deepcopy(dict(raw)), origin.source))
    except ConfigError as exc:
        raise origin.locate(exc) from None
    config.origin = origin
    return config


def load_config(path: str | Path, overrides: Iterable[str] = (), read: tuple[str, Any] | None = None) -> RunConfig:
    """Read a YAML config (checked, then ``safe_load``-ed), apply overrides, check everything.

    Args:
        read: the file's text and contents where :func:`arena.config.safe_yaml.read_config_text`
            has read them already (the command line does, before importing anything heavy), so
            that the file is read once.
    """
    from arena.config.shipped import resolve

    source = str(resolve(path))  # a shipped config by name where no file is there
    text, raw = read if read is not None else read_config_text(path)
    overridden = apply_overrides(raw, overrides) if isinstance(raw, dict) else []
    return parse_config(raw, ConfigOrigin(source, _line_map(text), overridden))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    return value


_ORDER = ("name", "seed", "device", "data", "game", "agents", "schedule", "log", "review", "checkpoint", "divergence",
          "ratings", "selection", "mixture", "panel", "league", "compute")


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """The config as plain YAML-ready data (the first key is ``name``; its origin left out)."""
    return {k: _plain(getattr(config, k)) for k in _ORDER}


def dump_config(config: RunConfig) -> str:
    """The resolved config as YAML text (``config.yaml`` of every run)."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False, default_flow_style=None)
