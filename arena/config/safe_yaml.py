"""Reading YAML that may be hostile: one streaming pass over its events refuses, with the line
and the key path, what would cost time or memory or silently mean something else, before the
safe loader (``yaml.safe_load``: never evaluated) builds anything:

- a file larger than :data:`MAX_BYTES`;
- nesting deeper than :data:`MAX_DEPTH`;
- an alias that refers to the node it is part of (a recursive structure), or aliases that
  expand to more than :data:`MAX_NODES` nodes (a "billion laughs");
- a duplicate key in one mapping (YAML would keep the last value without a word);
- an integer of more than :data:`MAX_DIGITS` digits (Python refuses to convert very long
  integer strings; no setting needs more).

This module imports nothing heavy (no torch), so the command line refuses such a file at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from arena.core.errors import ConfigError

__all__ = ["inspect_yaml", "read_yaml", "read_config_text", "LOADER", "MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "MAX_DIGITS"]

MAX_BYTES = 256 * 1024
"""Largest config file read (a config is a few kilobytes)."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and sequences (a config nests about 5 deep)."""
MAX_NODES = 100_000
"""Most nodes a config may hold once its aliases are expanded."""
MAX_DIGITS = 64
"""Longest integer literal."""

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it (fast), else PyYAML's own."""
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
        for event in yaml.parse(text, Loader=LOADER):
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
        return yaml.load(text, Loader=LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid YAML: {problem}", file=source, line=line) from None
    except (ValueError, OverflowError, TypeError) as exc:  # a tagged value its constructor refuses
        raise ConfigError(f"invalid YAML: {str(exc).splitlines()[0]}", file=source) from None


def read_config_text(path: str | Path) -> tuple[str, Any]:
    """A config file's text and its YAML contents, read safely (:mod:`arena.config.safe_yaml`);
    a name that is no file is looked up among the shipped configs (``tournament_ring8``)."""
    from arena.config.shipped import missing_hint, resolve
    from arena.core.files import read_text

    path = resolve(path)  # a path that exists, else a shipped config of that name
    source = str(path)
    # once, bounded: a pipe (`arena check <(envsubst < t.yaml)`) works; a device or an endless stream is refused
    try:
        text = read_text(path, MAX_BYTES, "config file", pipes=True, error=ConfigError)
    except ConfigError as exc:
        if not Path(source).exists() and str(exc).endswith("no such config file"):
            raise ConfigError(f"{exc}{missing_hint(source)}") from None
        raise
    raw = read_yaml(text, source)
    if raw is None:
        raise ConfigError("the config is empty", file=source)
    return text, raw
