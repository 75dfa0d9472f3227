"""The configs reference page (``docs/configs.md``), generated from the code so that it cannot drift:
every key of the typed config sections with its type, default and meaning (the attribute
docstrings of :mod:`arena.config.sections` and :mod:`agents.spec`), and every registered plug-in
that a config names (data sources, networks, games, ...) with its parameters and defaults.

``python -m arena.config.reference > docs/configs.md`` (``make docs``) writes it; a test fails
when the page differs from what this module generates.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import sys
import textwrap
import typing
from typing import Any

from agents.spec import AgentSpec
from arena.config.loading import _ORDER
from arena.config.sections import RunConfig

__all__ = ["reference", "field_docs"]


def field_docs(cls: type) -> dict[str, tuple[str, str]]:
    """``{field: (annotation as written, docstring)}`` of a dataclass, read from its source."""
    namespace = vars(sys.modules[cls.__module__])
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    out: dict[str, tuple[str, str]] = {}
    for node, after in zip(body, body[1:] + [None]):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            doc = ""
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
                doc = inspect.cleandoc(after.value.value)
            out[node.target.id] = (_type(node.annotation, namespace), doc)
    return out


_BOUNDS = {"Ge": ">=", "Gt": ">", "Le": "<=", "Lt": "<"}


def _bound(node: ast.expr, namespace: dict[str, Any]) -> str:
    """A bound's value: a constant such as ``MAX_COUNT`` is looked up in its module."""
    if isinstance(node, ast.Name) and isinstance(namespace.get(node.id), (int, float)):
        return f"{namespace[node.id]:,}"
    return ast.unparse(node)


def _type(node: ast.expr, namespace: dict[str, Any]) -> str:
    """An annotation as a reader wants it: ``Annotated[int, Ge(1)]`` is ``int >= 1``."""
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "Annotated":
        base, *marks = node.slice.elts  # type: ignore[attr-defined]
        bounds = [f"{_BOUNDS[m.func.id]} {_bound(m.args[0], namespace)}" for m in marks
                  if isinstance(m, ast.Call) and isinstance(m.func, ast.Name) and m.func.id in _BOUNDS]
        return f"{_type(base, namespace)} {', '.join(bounds)}" if bounds else _type(base, namespace)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "Literal":
        values = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return " \\| ".join(ast.unparse(v) for v in values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # bool | Literal['auto']
        return f"{_type(node.left, namespace)} \\| {_type(node.right, namespace)}"
    return ast.unparse(node).replace("|", "\\|")


def _default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "required"
    if dataclasses.is_dataclass(value):
        return "(its section below)"
    return f"`{value!r}`".replace("|", "\\|")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _table(cls: type, prefix: str, nested: list[tuple[str, type]]) -> list[str]:
    docs = field_docs(cls)
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        kind, doc = docs.get(field.name, ("", ""))
        lines.append(f"| `{prefix}{field.name}` | {kind} | {_default(field)} | {_cell(doc)} |")
        hint = hints.get(field.name)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            nested.append((f"{prefix}{field.name}", hint))
    return lines


def _section(key: str, cls: type, doc: str) -> list[str]:
    out = [f"## `{key}`", "", _cell(inspect.getdoc(cls) or doc), ""]
    nested: list[tuple[str, type]] = []
    out += _table(cls, f"{key}.", nested)
    while nested:
        name, sub = nested.pop(0)
        out += ["", f"### `{name}`", "", _cell(inspect.getdoc(sub) or ""), ""]
        out += _table(sub, f"{name}.", nested)
    return out + [""]


_PASSED = {"seed", "space", "self", "outputs", "periods", "real", "fake", "real_features", "fake_features", "c", "m",
           "params", "in_shape", "out_shape", "role", "out_range", "generators", "discriminators"}
"""Parameters the arena passes to a plug-in itself (its inputs), not keys of a config."""


def _plugins() -> list[str]:
    from arena.core.registry import _signature_params
    from arena.plugins import registries

    out = ["## Plug-ins a config names", "",
           "Each table is one registry (`arena list` prints the same); a config names an entry by its id "
           "and passes the parameters beside it (metrics are named in `review.metrics`, `arena eval --metrics`). "
           "What the arena passes itself (the seed, the data's shape, the samples) is left out.", ""]
    for title, registry in registries().items():
        out += [f"### {title} (`{registry.key}:`)", "", "| id | parameters (default) | description |",
                "| --- | --- | --- |"]
        for id in registry.ids():
            try:
                params, _, _ = _signature_params(registry.factory(id))
            except (TypeError, ValueError):
                params = {}
            fixed = registry.defaults(id)
            shown = []
            for name, p in params.items():
                if name in _PASSED or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                    continue
                default = fixed.get(name, p.default)
                shown.append(f"`{name}`" if default is inspect.Parameter.empty else f"`{name}={default!r}`")
            out.append(f"| `{id}` | {_cell(', '.join(shown)) or '-'} | {_cell(registry.description(id))} |")
        out.append("")
    return out


def reference() -> str:
    """The whole page, as Markdown."""
    docs = field_docs(RunConfig)
    out = ["# Configs reference", "",
           "<!-- Generated by `python -m arena.config.reference > docs/configs.md` (`make docs`); do not edit: "
           "tests/arena/config/test_reference.py fails when this page and the code differ. -->", "",
           "A config is one YAML file; every key below has a default except `agents`. `arena check CONFIG` "
           "validates one and `--set KEY.PATH=VALUE` overrides any key on the command line.", ""]
    out += ["## Top level", "", "| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    fields = {f.name: f for f in dataclasses.fields(RunConfig)}
    for key in _ORDER:
        if key == "agents":
            continue
        kind, doc = docs[key]
        out.append(f"| `{key}` | {kind} | {_default(fields[key])} | {_cell(doc)} |")
    out += ["", "## `agents[]`", "", _cell(docs["agents"][1]) + " " + _cell(inspect.getdoc(AgentSpec) or ""), ""]
    out += _table(AgentSpec, "", [])
    out.append("")
    hints = typing.get_type_hints(RunConfig)
    for key in _ORDER:
        hint: Any = hints.get(key)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            out += _section(key, hint, docs[key][1])
    out += _plugins()
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(reference())
