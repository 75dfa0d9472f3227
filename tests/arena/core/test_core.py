"""arena/core/: seeds, devices, tensor trees, registries."""

from __future__ import annotations

import re

import pytest
import torch

from arena.core.errors import ConfigError, UnknownId
from arena.core.registry import Registry, build
from arena.core.seeding import derive_seed, seed_global
from arena.core.tensors import map_tensors
from arena.engine.placement import resolve_device


def test_derived_seeds_are_stable_and_distinct():
    # the first 8 bytes of sha256("0/agent/g0"), little-endian, halved: the same on every platform and version
    assert derive_seed(0, "agent", "g0") == 2332271896545576218
    assert derive_seed(0, "agent", "g0") != derive_seed(1, "agent", "g0") != derive_seed(0, "agent", "g1")
    assert 0 <= derive_seed(123, "x") < 2**63


def test_seed_global_is_the_loops_seed():
    seed_global(7)
    a = torch.rand(3)
    torch.manual_seed(derive_seed(7, "loop"))
    assert torch.equal(a, torch.rand(3))


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device 'cuda:1' asked for, but this torch has no usable CUDA"):
            resolve_device("cuda:1")


def test_map_tensors_rebuilds_containers_and_shares_the_rest():
    state = {"a": torch.ones(2), "b": [torch.zeros(1), ("x", 3)], "c": None}
    out = map_tensors(state, lambda t: t + 1)
    assert torch.equal(out["a"], torch.full((2,), 2.0)) and torch.equal(out["b"][0], torch.ones(1))
    assert out["b"][1] == ("x", 3) and out["c"] is None and torch.equal(state["a"], torch.ones(2))


def test_registry_names_what_exists_and_builds_with_checked_arguments():
    reg: Registry = Registry("widget")

    def widget(size: int = 1, colour: str = "red") -> tuple:
        return size, colour

    reg.register("widget-v0", widget, "a widget")
    assert build({"type": "widget-v0", "size": 3}, reg) == (3, "red")
    with pytest.raises(UnknownId, match=re.escape("unknown widget 'widgit-v0'; did you mean 'widget-v0'? (known: widget-v0)")):
        build({"type": "widgit-v0"}, reg, ("net",))
    with pytest.raises(ConfigError, match=re.escape("net.size: expected an integer, got 'big'")):
        build({"type": "widget-v0", "size": "big"}, reg, ("net",))
    with pytest.raises(ValueError, match="already registered"):
        reg.register("widget-v0", widget)


def test_clone_tensors_copies_every_tensor_and_the_float_ones_in_one_buffer():
    from arena.core.tensors import clone_tensors

    state = {"w": torch.arange(6.0).view(2, 3).t(), "steps": [torch.tensor(3), torch.tensor([1, 2])],
             "rng": torch.get_rng_state(), "lr": 0.1, "name": "g0", "nothing": None, "scalar": torch.tensor(2.5)}
    copy = clone_tensors(state)
    assert copy["lr"] == 0.1 and copy["name"] == "g0" and copy["nothing"] is None
    for a, b in ((state["w"], copy["w"]), (state["steps"][0], copy["steps"][0]), (state["steps"][1], copy["steps"][1]),
                 (state["rng"], copy["rng"]), (state["scalar"], copy["scalar"])):
        assert torch.equal(a, b) and a.dtype == b.dtype and a.shape == b.shape
        assert b.untyped_storage().data_ptr() != a.untyped_storage().data_ptr()
    state["w"].add_(1)  # the copy is its own
    assert torch.equal(copy["w"], torch.arange(6.0).view(2, 3).t())
    # the float tensors in one buffer; the others (a random state, counters) each their own
    assert copy["w"].untyped_storage().data_ptr() == copy["scalar"].untyped_storage().data_ptr()
    assert copy["steps"][0].untyped_storage().data_ptr() != copy["steps"][1].untyped_storage().data_ptr()
    assert copy["rng"].storage_offset() == 0
