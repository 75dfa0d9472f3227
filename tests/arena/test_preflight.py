"""arena/preflight.py: shapes that do not fit the data and sizes that do not fit memory fail before training."""

from __future__ import annotations

import re
import sys
import textwrap

import pytest

from arena.engine.arena import build_arena
from arena.config import parse_config
from arena.core.errors import ConfigError
from tests.conftest import tiny_raw

NETS = textwrap.dedent("""
    import torch
    from torch import nn

    class WrongOut(nn.Module):
        '''Ignores out_shape: always emits 3 numbers.'''
        def __init__(self, in_shape):
            super().__init__()
            self.lin = nn.Linear(in_shape[0], 3)
        def forward(self, x):
            return self.lin(x)

    class FixedIn(nn.Module):
        '''Expects 5 inputs, whatever the data.'''
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(5, 1)
        def forward(self, x):
            return self.lin(x)

    class ManyLogits(nn.Module):
        def __init__(self, in_shape):
            super().__init__()
            self.lin = nn.Linear(in_shape[0], 4)
        def forward(self, x):
            return self.lin(x)
""")


@pytest.fixture
def user_nets(tmp_path, monkeypatch):
    (tmp_path / "preflight_nets.py").write_text(NETS)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("preflight_nets", None)


@pytest.mark.parametrize(
    "index, net, message",
    [
        (0, "preflight_nets:WrongOut", "agents[0].net: the generator emits samples of shape (3,), but the data has shape (2,)"),
        (1, "preflight_nets:FixedIn", "agents[1].net: the discriminator's network cannot take data of shape (2,): "),
        (1, "preflight_nets:ManyLogits", "agents[1].net: the discriminator must emit one logit per sample, shape (batch, 1); it emits (2, 4)"),
    ],
)
def test_networks_that_do_not_fit_the_data(user_nets, index, net, message):
    raw = tiny_raw()
    raw["agents"][index]["net"] = {"type": net}
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_arena(parse_config(raw))


def test_agents_too_large_for_memory_fail_before_allocating():
    raw = tiny_raw()
    raw["agents"][1]["net"] = {"type": "mlp", "hidden": [300_000, 300_000]}  # 9e10 parameters
    with pytest.raises(ConfigError, match=re.escape("agents[1].net: the agents need about")) as info:
        build_arena(parse_config(raw))
    assert "(this spec: 90,001,500,001 parameters per agent)" in str(info.value)


def test_data_too_large_for_memory_fails_before_generating():
    with pytest.raises(ConfigError, match=re.escape("data.train_size: 1,000,000,000,500 points need about")):
        build_arena(parse_config(tiny_raw(data={"source": "ring8", "train_size": 10**12})))
