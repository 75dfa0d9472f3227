"""Checking config values against type hints: the messages users see for wrong values.

``check_value(value, hint, path)`` understands ``int``, ``float``, ``bool``, ``str``, ``None``,
``Any``, ``Literal``, unions, lists, tuples, ``dict[str, T]``, dataclasses and
``Annotated[number, Gt(0), ...]`` bounds. Like :mod:`arena.core.errors`, it imports nothing else
from the project.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import operator
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from arena.core.errors import ConfigError

__all__ = ["Gt", "Ge", "Lt", "Le", "check_value", "parse_dataclass", "closest", "did_you_mean"]

T = TypeVar("T")


def closest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The choices most similar to ``word`` (difflib), best first."""
    return difflib.get_close_matches(str(word), list(choices), n=n, cutoff=0.5)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` or an empty string."""
    near = closest(word, choices, n=1)
    return f"; did you mean {near[0]!r}?" if near else ""


_COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_SEQUENCES: tuple[Any, ...] = (list, tuple)
"""The container origins a config value may take as a list."""


@dataclasses.dataclass(frozen=True)
class _Bound:
    """A bound on a number, used as ``Annotated[float, Gt(0)]``."""

    value: float

    op: typing.ClassVar[str] = ""

    def ok(self, x: float) -> bool:
        return bool(_COMPARE[self.op](x, self.value))


class Gt(_Bound):
    """Greater than ``value``."""

    op = ">"


class Ge(_Bound):
    """Greater than or equal to ``value``."""

    op = ">="


class Lt(_Bound):
    """Less than ``value``."""

    op = "<"


class Le(_Bound):
    """Less than or equal to ``value``."""

    op = "<="


def _describe(tp: Any) -> str:
    """A human phrase for a type hint: 'a positive number', 'a list of integers'."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(tp)
        bounds = [e for e in extras if isinstance(e, _Bound)]
        noun = "integer" if base is int else "number"
        if len(bounds) == 1 and base is int and bounds[0].value == 1 and bounds[0].op == ">=":
            return "a positive integer"
        if len(bounds) == 1 and bounds[0].value == 0 and bounds[0].op in (">", ">="):
            return f"a {'positive' if bounds[0].op == '>' else 'non-negative'} {noun}"
        lo = next((b for b in bounds if b.op in (">", ">=")), None)
        hi = next((b for b in bounds if b.op in ("<", "<=")), None)
        if lo and hi:
            left = "(" if lo.op == ">" else "["
            right = ")" if hi.op == "<" else "]"
            return f"a{'n' if noun == 'integer' else ''} {noun} in {left}{_num(lo.value)}, {_num(hi.value)}{right}"
        parts = [f"{b.op} {_num(b.value)}" for b in bounds]
        return f"a{'n' if noun == 'integer' else ''} {noun} {' and '.join(parts)}"
    if tp is Any:
        return "any value"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if tp is type(None):
        return "null"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if all(a is bool or typing.get_origin(a) is typing.Literal for a in args):  # true, false or 'auto'
            words = [w for a in args for w in (("true", "false") if a is bool else map(repr, typing.get_args(a)))]
            return ", ".join(words[:-1]) + " or " + words[-1]
        return " or ".join(_describe(a) for a in args)
    if origin in (list, tuple):
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return f"a list of {len(args)} values ({', '.join(_describe(a) for a in args)})"
        return f"a list of {_plural(_describe(args[0]))}" if args else "a list"
    if origin is dict or tp is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _plural(phrase: str) -> str:
    for article in ("an ", "a "):
        if phrase.startswith(article):
            phrase = phrase[len(article):]
            break
    return phrase if phrase.endswith("s") else phrase + "s"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_value(value: Any, tp: Any, path: tuple[Any, ...] = ()) -> Any:
    """Check ``value`` against the type hint ``tp``; return it converted (ints to floats, lists to tuples).

    Supports ``int``, ``float``, ``bool``, ``str``, ``None``, ``Any``, ``Literal``, unions,
    ``list[T]``, ``tuple[...]``, ``dict[str, T]``, dataclasses (via :func:`parse_dataclass`) and
    ``Annotated[number, Gt(0), ...]`` bounds. Raises :class:`ConfigError` naming ``path``.
    """

    def fail() -> ConfigError:
        return ConfigError(f"expected {_describe(tp)}, got {_shown(value)}", path)

    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(tp)
        try:
            out = check_value(value, base, path)
        except ConfigError as exc:
            if exc.path == path:
                raise fail() from None
            raise
        for bound in extras:
            if isinstance(bound, _Bound) and not bound.ok(out):
                raise fail()
        return out
    if tp is Any:
        return value
    if tp in (bool, str, type(None)):
        if isinstance(value, tp):
            return value
        raise fail()
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        raise fail()
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise fail()
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-4 as a string
            try:
                out = float(value)
            except ValueError:
                raise fail() from None
            if math.isfinite(out):
                return out
        raise fail()
    if origin is typing.Literal:
        if value in typing.get_args(tp) and not isinstance(value, bool):
            return value
        suggestion = did_you_mean(str(value), [str(a) for a in typing.get_args(tp)])
        raise ConfigError(f"expected {_describe(tp)}, got {_shown(value)}{suggestion}", path)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:  # before a dataclass member, which reads None as {}
            return None
        # Try the non-container members first so that 3 matches float before list[float].
        for arg in sorted(args, key=lambda a: typing.get_origin(a) in _SEQUENCES):
            try:
                return check_value(value, arg, path)
            except ConfigError as exc:
                if exc.path != path:  # the value matched the shape but a nested item is wrong
                    raise
        raise fail()
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise fail()
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise fail()
            return tuple(check_value(v, a, (*path, i)) for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        items = [check_value(v, item, (*path, i)) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise fail()
        args = typing.get_args(tp)
        vt = args[1] if args else Any
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"keys must be strings, got {_shown(k)}", path)
            out[k] = check_value(v, vt, (*path, k))
        return out
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return parse_dataclass(tp, value, path)
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise fail()
    return value


def parse_dataclass(cls: type[T], value: Any, path: tuple[Any, ...] = ()) -> T:
    """Build the dataclass ``cls`` from a mapping, checking every key and value."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"expected a mapping, got {_shown(value)}", path)
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    for key in value:
        if key not in fields:
            raise ConfigError(
                f"unknown key {key!r}{did_you_mean(str(key), fields)} (valid: {', '.join(fields)})",
                (*path, key),
            )
    kwargs = {}
    for name, f in fields.items():
        if name in value:
            kwargs[name] = check_value(value[name], hints[name], (*path, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required key {name!r}", path)
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        try:
            validate()
        except ConfigError as exc:
            raise ConfigError(exc.message, (*path, *exc.path)) from None
    return obj
