"""arena/core/typecheck.py: values checked against type hints, converted where the hint says,
refused with a message that names the key path and what was expected."""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated, Any, Literal

import pytest

from arena.core.errors import ConfigError
from arena.core.typecheck import Ge, Gt, Le, Lt, check_value, closest, did_you_mean, parse_dataclass

ACCEPTED = [
    (3, float, 3.0),  # an integer where a number is asked for becomes a float
    ([1, 2], tuple[int, int], (1, 2)),  # a YAML list where a tuple is asked for
    ("a", Literal["a", "b"], "a"),
    (None, int | None, None),
    ({"a": 1}, dict[str, int], {"a": 1}),
    (0.5, Annotated[float, Ge(0), Lt(1)], 0.5),
    (1, Annotated[int, Gt(0), Le(1)], 1),
    ("anything", Any, "anything"),
]


@pytest.mark.parametrize("value, hint, expected", ACCEPTED)
def test_accepted_values_come_back_converted(value, hint, expected):
    out = check_value(value, hint, ("k",))
    assert out == expected and type(out) is type(expected)


REFUSED = [
    (True, int, "k: expected an integer, got True"),  # YAML's booleans are not integers
    ("x", int, "k: expected an integer, got 'x'"),
    (1.5, int, "k: expected an integer, got 1.5"),
    ([1, 2, 3], tuple[int, int], "k: expected a list of 2 values (an integer, an integer), got [1, 2, 3]"),
    (0, Annotated[int, Gt(0)], "k: expected a positive integer, got 0"),
    (2.0, Annotated[float, Ge(0), Lt(1)], "k: expected a number in [0, 1), got 2.0"),
    ("c", Literal["a", "b"], "k: expected one of 'a', 'b', got 'c'"),
    ({1: 1}, dict[str, int], "k: keys must be strings, got 1"),
    ([1, "x"], list[int], "k[1]: expected an integer, got 'x'"),
]


@pytest.mark.parametrize("value, hint, message", REFUSED)
def test_refused_values_name_the_path_and_what_was_expected(value, hint, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_value(value, hint, ("k",))


@dataclasses.dataclass
class Inner:
    rate: Annotated[float, Gt(0)] = 0.1


@dataclasses.dataclass
class Outer:
    name: str
    inner: Inner = dataclasses.field(default_factory=Inner)
    optional: Inner | None = None

    def validate(self) -> None:
        if self.name == "bad":
            raise ConfigError("a name nobody wants", ("name",))


def test_dataclasses_are_built_key_by_key_with_their_defaults():
    out = parse_dataclass(Outer, {"name": "x", "inner": {"rate": 2}})
    assert out == Outer("x", Inner(2.0), None) and isinstance(out.inner.rate, float)
    assert parse_dataclass(Outer, {"name": "x", "optional": {}}).optional == Inner()


def test_dataclass_errors_name_the_key_path_and_the_closest_key():
    with pytest.raises(ConfigError, match=re.escape("unknown key 'rat'")) as info:
        parse_dataclass(Outer, {"name": "x", "inner": {"rat": 1}}, ("top",))
    assert info.value.path[:2] == ("top", "inner") and "rate" in str(info.value)
    with pytest.raises(ConfigError, match=re.escape("top.name: a name nobody wants")):
        parse_dataclass(Outer, {"name": "bad"}, ("top",))
    with pytest.raises(ConfigError, match="name"):
        parse_dataclass(Outer, {}, ("top",))  # a field without a default is required


def test_closest_names():
    assert closest("glicko", ["glicko2", "elo", "bradley-terry"]) == ["glicko2"]
    assert did_you_mean("ring9", ["ring8", "grid25"]) == "; did you mean 'ring8'?"
    assert did_you_mean("zzz", ["ring8", "grid25"]) == ""
