"""docs/configs.md is generated from the typed config sections and the registries: it must equal
what arena/config/reference.py generates now, and name every key and every registered plug-in."""

from __future__ import annotations

import dataclasses

from arena.config.reference import field_docs, reference
from arena.config.sections import PanelConfig, RunConfig
from tests.conftest import ROOT


def test_the_configs_page_is_up_to_date():
    page = (ROOT / "docs" / "configs.md").read_text()
    assert page == reference(), "docs/configs.md is out of date: run `make docs` (python -m arena.config.reference)"


def test_every_key_and_plugin_is_on_the_page():
    from arena.plugins import registries

    page = reference()
    for section in dataclasses.fields(RunConfig):
        if not section.init:
            continue  # origin: where values came from, not a key
        assert f"`{section.name}`" in page, section.name
    for field in dataclasses.fields(PanelConfig):
        assert f"`panel.{field.name}`" in page
    assert "`panel.refine.steps` | int >= 0 | `0` |" in page, "nested sections, their types, defaults"
    assert "| `count` | int >= 1, <= 4,096 | `1` |" in page, "bounds read from Annotated, constants resolved"
    for registry in registries().values():
        for id in registry.ids():
            assert f"| `{id}` |" in page, id
    assert "| `ring8` | `train_size=100000`, `test_size=10000`, `modes=8`" in page


def test_every_field_has_a_docstring():
    """The page is only as good as the field docs: a field without one fails here."""
    import typing

    missing = []
    todo = [RunConfig]
    while todo:
        cls = todo.pop()
        docs = field_docs(cls)
        for field in dataclasses.fields(cls):
            if field.init and not docs.get(field.name, ("", ""))[1]:
                missing.append(f"{cls.__name__}.{field.name}")
            hint = typing.get_type_hints(cls).get(field.name)
            if isinstance(hint, type) and dataclasses.is_dataclass(hint):
                todo.append(hint)
    assert not missing, missing
