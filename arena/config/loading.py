"""Reading configs: YAML text in, a checked :class:`RunConfig` out, every mistake named by file,
line and key path, and hostile input refused before it can cost time or memory.

The text is read with ``yaml.safe_load`` (never evaluated), but only after one streaming pass
over its YAML events (:func:`inspect_yaml`) has refused, with the line and key path:

- a file larger than :data:`MAX_BYTES`;
- nesting deeper than :data:`MAX_DEPTH`;
- an alias that refers to the node it is part of (a recursive structure), or aliases that
  expand to more than :data:`MAX_NODES` nodes (a "billion laughs");
- a duplicate key in one mapping (YAML would keep the last value without a word);
- an integer of more than :data:`MAX_DIGITS` digits (Python refuses to convert very long
  integer strings; no setting needs more).

The same checks apply to every ``--set`` value.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from arena.config.origin import ConfigOrigin
from arena.config.sections import RunConfig
from arena.core.errors import ConfigError
from arena.core.typecheck import parse_dataclass

__all__ = [
    "load_config",
    "parse_config",
    "read_yaml",
    "inspect_yaml",
    "apply_overrides",
    "config_to_dict",
    "dump_config",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_DIGITS",
]

MAX_BYTES = 256 * 1024
"""Largest config file read (a config is a few kilobytes)."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and sequences (a config nests about 5 deep)."""
MAX_NODES = 100_000
"""Most nodes a config may hold once its aliases are expanded."""
MAX_DIGITS = 64
"""Longest integer literal."""

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_INT_TAG = "tag:yaml.org,2002:int"
_RESOLVER = yaml.resolver.Resolver()


class _Open:
    """A mapping or sequence being read: its key path, its size so far, its keys."""

    __slots__ = ("path", "mapping", "size", "keys", "index", "key", "anchor", "expect_key")

    def __init__(self, path: tuple, mapping: bool, anchor: str | None) -> None:
        self.path, self.mapping, self.anchor = path, mapping, anchor
        self.size, self.index, self.key, self.expect_key = 1, 0, None, True
        self.keys: dict[Any, int] = {}


def _child_path(parent: _Open | None) -> tuple:
    if parent is None:
        return ()
    if parent.mapping:
        return (*parent.path, parent.key if parent.key is not None else "?")
    return (*parent.path, parent.index)


def inspect_yaml(text: str, source: str) -> None:
    """Refuse hostile or ambiguous YAML (see the module docstring) in one pass over its events,
    without building it. Syntax errors are left to the loader, which names them.

    Raises:
        ConfigError: naming ``source``, the line and the key path.
    """
    stack: list[_Open] = []
    anchors: dict[str, int] = {}  # anchor -> expanded size of its node
    total = 0

    def fail(message: str, event: yaml.Event, path: tuple) -> ConfigError:
        return ConfigError(message, path, file=source, line=event.start_mark.line + 1)

    def count(size: int, event: yaml.Event, path: tuple) -> None:
        """``size`` more nodes once aliases are expanded."""
        nonlocal total
        total += size
        if total > MAX_NODES:
            raise fail(f"the config expands to more than {MAX_NODES:,} values (aliases that repeat aliases?)", event, path)

    def advance(parent: _Open | None) -> None:
        """A value of ``parent`` is complete."""
        if parent is None:
            return
        if parent.mapping:
            parent.expect_key = not parent.expect_key
            if parent.expect_key:
                parent.key = None
        else:
            parent.index += 1

    try:
        for event in yaml.parse(text, Loader=_LOADER):
            parent = stack[-1] if stack else None
            is_key = parent is not None and parent.mapping and parent.expect_key
            path = _child_path(parent)
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(stack) >= MAX_DEPTH:
                    raise fail(f"nested more than {MAX_DEPTH} levels deep", event, path)
                if is_key:
                    parent.key = "?"
                count(1, event, path)
                stack.append(_Open(path, isinstance(event, yaml.MappingStartEvent), event.anchor))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                node = stack.pop()
                if node.anchor is not None:
                    anchors[node.anchor] = node.size
                if stack:
                    stack[-1].size += node.size
                advance(stack[-1] if stack else None)
            elif isinstance(event, yaml.ScalarEvent):
                value = event.value
                if is_key:
                    if value != "<<" and value in parent.keys:
                        raise fail(f"duplicate key {value!r} (also on line {parent.keys[value]}); YAML would keep only the "
                                   f"last value", event, (*parent.path, value))
                    parent.keys[value] = event.start_mark.line + 1
                    parent.key = value
                elif len(value) > MAX_DIGITS and (event.tag == _INT_TAG or (
                        event.implicit[0] and _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _INT_TAG)):
                    raise fail(f"an integer of {len(value)} characters; numbers in a config have at most {MAX_DIGITS}",
                               event, path)
                if event.anchor is not None:
                    anchors[event.anchor] = 1
                count(1, event, path)
                if parent is not None:
                    parent.size += 1
                advance(parent)
            elif isinstance(event, yaml.AliasEvent):
                if any(node.anchor == event.anchor for node in stack):
                    raise fail(f"alias *{event.anchor} refers to a node that contains it (a structure without end)",
                               event, path)
                if is_key:
                    parent.key = "?"
                size = anchors.get(event.anchor, 1)
                count(size, event, path)
                if parent is not None:
                    parent.size += size
                advance(parent)
    except yaml.YAMLError:
        return  # the loader reports syntax errors with their line


def read_yaml(text: str, source: str) -> Any:
    """Check ``text`` (:func:`inspect_yaml`) and load it with the safe loader."""
    inspect_yaml(text, source)
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid YAML: {problem}", file=source, line=line) from None
    except (ValueError, OverflowError, TypeError) as exc:  # a tagged value its constructor refuses
        raise ConfigError(f"invalid YAML: {str(exc).splitlines()[0]}", file=source) from None


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
        root = yaml.compose(text, Loader=_LOADER)
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


def parse_config(raw: Any, origin: ConfigOrigin | None = None) -> RunConfig:
    """Check a raw mapping and build a :class:`RunConfig`; errors name the file and the line.

    The returned config carries its :class:`ConfigOrigin` as ``config.origin``, so errors found
    later (when the arena builds what the config names) are located the same way.
    """
    origin = origin or ConfigOrigin("<config>")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"expected a mapping at the top level, got {type(raw).__name__}", file=origin.source)
    try:
        config = parse_dataclass(RunConfig, raw)
    except ConfigError as exc:
        raise origin.locate(exc) from None
    config.origin = origin
    return config


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> RunConfig:
    """Read a YAML config (checked, then ``safe_load``-ed), apply overrides, check everything."""
    path = Path(path)
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"the file is {size:,} bytes; a config may have at most {MAX_BYTES:,}", file=source)
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError("no such config file", file=source) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config: {exc}", file=source) from None
    raw = read_yaml(text, source)
    if raw is None:
        raise ConfigError("the config is empty", file=source)
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


_ORDER = ("name", "seed", "device", "data", "game", "agents", "schedule", "log", "eval", "checkpoint", "divergence",
          "ratings", "selection", "mixture", "compute")


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """The config as plain YAML-ready data (the first key is ``name``; its origin left out)."""
    return {k: _plain(getattr(config, k)) for k in _ORDER}


def dump_config(config: RunConfig) -> str:
    """The resolved config as YAML text (``config.yaml`` of every run)."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False, default_flow_style=None)
