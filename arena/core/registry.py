"""Registries, building objects from config, and checking values against type hints.

A :class:`Registry` maps versioned ids (``gan-v0``, ``mlp``, ``ring8``) to factories,
given either directly or lazily as ``"module:attr"`` entry points. :func:`build` is the one
place where a config mapping becomes an object: it pops the id key, checks every other key
against the factory's signature and type hints, and reports mistakes with the key path.

Like :mod:`arena.core.errors`, this module imports nothing else from the project, so ``agents``
and ``games`` use it without depending on the arena.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from arena.core.errors import ConfigError, UnknownId
from arena.core.typecheck import Ge, Gt, Le, Lt, _shown, check_value, closest, did_you_mean

__all__ = [
    "Registry",
    "build",
    "check_value",
    "closest",
    "load_entry_point",
    "Gt",
    "Ge",
    "Le",
    "Lt",
]

T = TypeVar("T")


def load_entry_point(spec: str) -> Any:
    """Import ``"package.module:attr"`` and return the attribute."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"expected 'module:Name', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import module {module_name!r} named in {spec!r}: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


@dataclasses.dataclass(frozen=True)
class _Entry(Generic[T]):
    id: str
    entry_point: str | Callable[..., T]
    description: str
    kwargs: Mapping[str, Any]


class Registry(Generic[T]):
    """Ids mapped to factories.

    Args:
        kind: what the registry holds, used in messages ("game", "network", ...).
        key: the config key that names an entry ("type", "id", "source").
        custom: resolves a ``"module:Class"`` id to a factory where the registry allows user
            code (networks); it must refuse anything it will not call.
    """

    def __init__(
        self,
        kind: str,
        key: str = "type",
        custom: Callable[[str, tuple[Any, ...]], Callable[..., T]] | None = None,
    ) -> None:
        self.kind = kind
        self.key = key
        self.custom = custom
        self._entries: dict[str, _Entry[T]] = {}

    def register(
        self,
        id: str,
        entry_point: str | Callable[..., T],
        description: str = "",
        **kwargs: Any,
    ) -> None:
        """Add ``id``; ``kwargs`` are defaults passed to the factory. Ids are unique."""
        if id in self._entries:
            raise ValueError(f"{self.kind} {id!r} is already registered")
        self._entries[id] = _Entry(id, entry_point, description, dict(kwargs))

    def __contains__(self, id: object) -> bool:
        return id in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def ids(self) -> list[str]:
        return sorted(self._entries)

    def description(self, id: str) -> str:
        return self.entry(id).description

    def entry(self, id: str, path: Iterable[str | int] = ()) -> _Entry[T]:
        if id not in self._entries:
            known = ", ".join(self.ids())
            raise UnknownId(
                f"unknown {self.kind} {id!r}{did_you_mean(id, self._entries)} (known: {known})",
                path,
            )
        return self._entries[id]

    def factory(self, id: str, path: Iterable[str | int] = ()) -> Callable[..., T]:
        """The callable registered under ``id``, importing it on first use."""
        entry = self.entry(id, path)
        ep = entry.entry_point
        fn = load_entry_point(ep) if isinstance(ep, str) else ep
        return fn

    def defaults(self, id: str) -> dict[str, Any]:
        return dict(self.entry(id).kwargs)


def _signature_params(fn: Callable[..., Any]) -> tuple[dict[str, inspect.Parameter], dict[str, Any], bool]:
    target = fn.__init__ if inspect.isclass(fn) else fn
    sig = inspect.signature(target)
    params = {
        n: p
        for n, p in sig.parameters.items()
        if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception:  # unresolvable hints in user code: check names only
        hints = {}
    return params, hints, var_kw


def check_kwargs(
    fn: Callable[..., Any],
    kwargs: Mapping[str, Any],
    path: tuple[Any, ...] = (),
    what: str = "",
    injected: Iterable[str] = (),
) -> dict[str, Any]:
    """Check ``kwargs`` against ``fn``'s signature and hints: unknown keys, types, bounds.

    ``injected`` names parameters the caller supplies itself; the config may not set them.
    """
    params, hints, var_kw = _signature_params(fn)
    injected = set(injected)
    settable = [n for n in params if n not in injected]
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in injected or (key not in params and not var_kw):
            raise ConfigError(
                f"unknown key {key!r} for {what or getattr(fn, '__name__', 'this entry')}"
                f"{did_you_mean(str(key), settable)} (valid: {', '.join(settable) or 'none'})",
                (*path, key),
            )
        out[key] = check_value(value, hints[key], (*path, key)) if key in hints else value
    for name, p in params.items():
        if name not in injected and name not in out and p.default is inspect.Parameter.empty:
            raise ConfigError(f"missing required key {name!r} for {what}", path)
    return out


def build(
    spec: Mapping[str, Any],
    registry: Registry[T],
    path: tuple[Any, ...] = (),
    **injected: Any,
) -> T:
    """Build an object from ``{registry.key: id, **kwargs}``.

    The id key is popped, the rest is checked against the factory's signature and type hints
    and passed as keyword arguments together with ``injected`` (values the caller supplies,
    such as shapes). Any :class:`ConfigError` raised inside names the key path.
    """
    if not isinstance(spec, Mapping):
        raise ConfigError(f"expected a mapping with key {registry.key!r}, got {_shown(spec)}", path)
    spec = dict(spec)
    if registry.key not in spec:
        raise ConfigError(
            f"missing key {registry.key!r} (one of: {', '.join(registry.ids())})", path
        )
    id = spec.pop(registry.key)
    if not isinstance(id, str):
        raise ConfigError(f"expected a string, got {_shown(id)}", (*path, registry.key))
    if ":" in id and id not in registry and registry.custom is not None:
        fn = registry.custom(id, (*path, registry.key))
    else:
        fn = registry.factory(id, (*path, registry.key))
    kwargs = {**registry.defaults(id), **spec} if id in registry else spec
    kwargs = check_kwargs(fn, kwargs, path, what=f"{registry.kind} {id!r}", injected=injected)
    try:
        return fn(**kwargs, **injected)
    except ConfigError as exc:
        raise ConfigError(exc.message, (*path, *exc.path)) from None
    except TypeError as exc:
        raise ConfigError(f"{registry.kind} {id!r} rejected its arguments: {exc}", path) from None
