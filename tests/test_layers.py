"""The imports point one way: every module imports only from its own package or from packages
in lower layers. Imports under ``if TYPE_CHECKING:`` are for type hints and never run; every
other import counts, inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

LAYERS = [
    ["arena.core"],  # errors, registries, seeds, fault plans: imports nothing of the project
    ["agents"],  # agents, networks, optimizers, latent priors, drawing samples
    ["games"],  # the rules of an encounter
    ["arena.data"],  # data sources and kinds (which name their metrics by id)
    ["arena.evaluation"],  # the metric registry and what it measures with
    ["arena.engine"],  # building the arena, playing matches and matchings
    ["arena.output"],  # mixtures, Nash, the panel
    ["arena.tournament"],  # the loop, the review, schedules, ratings, selection, standings
    ["arena.plugins"],  # every registry gathered (what configs are checked against)
    ["arena.config"],  # typed sections; checks plug-in names against every registry
    ["arena.rundir"],  # storage only
    ["arena.report"],  # the HTML report and comparisons across runs
    ["arena.recording"],  # the loop's built-in callbacks, in order
    ["arena.api"],  # run, resume, load
    ["arena.skill"],  # skill rating across runs (`arena league`), beside the API
    ["arena.cli"],  # the command line, a thin layer over the API
    ["arena", "arena.__main__"],  # the package's lazy exports
]
LAYER = {package: i for i, names in enumerate(LAYERS) for package in names}


def package_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "arena":
        return parts[0]
    return "arena" if len(parts) == 1 else f"arena.{parts[1]}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    """``(line, imported module)`` of every import that runs (those under ``if TYPE_CHECKING`` do not)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")[: -node.level] if not module.endswith("__init__") else module.split(".")
                found.append((node.lineno, ".".join([*base, *([node.module] if node.module else [])])))
            elif node.module:
                found += [(node.lineno, f"{node.module}.{alias.name}") if node.module == "arena" else (node.lineno, node.module)
                          for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] in ("arena", "agents", "games")]


SOURCES = sorted(p for top in ("arena", "agents", "games") for p in (ROOT / top).rglob("*.py"))


def test_every_package_has_a_layer():
    packages = {package_of(module_name(p)) for p in SOURCES}
    assert packages == set(LAYER), f"unlisted: {packages - set(LAYER)}; gone: {set(LAYER) - packages}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_layers(path):
    module = module_name(path)
    own = package_of(module)
    wrong = []
    for line, imported in runtime_imports(ast.parse(path.read_text()), module):
        target = package_of(imported)
        if target != own and LAYER[target] > LAYER[own]:
            wrong.append(f"{path.relative_to(ROOT)}:{line}: {own} (layer {LAYER[own]}) imports {imported} (layer {LAYER[target]})")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_an_upward_import():
    tree = ast.parse("import torch\nfrom arena.api import Run\nif TYPE_CHECKING:\n    from arena.cli import main\n"
                     "def f():\n    from arena.tournament.loop import Tournament\n")
    assert runtime_imports(tree, "arena.data.kinds") == [(2, "arena.api"), (6, "arena.tournament.loop")]
