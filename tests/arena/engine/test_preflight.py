"""arena/preflight.py: shapes that do not fit the data and sizes that do not fit memory fail before training."""

from __future__ import annotations

import re
import sys
import textwrap

import pytest

from arena.config import parse_config
from arena.core.errors import ConfigError
from arena.engine.arena import build_arena
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


def test_an_evaluation_too_large_for_memory_is_refused_before_training(monkeypatch):
    """review.samples x (generators + real data) in float32, plus the mode distances in float64,
    must fit in the device's memory (80% of it): found when the arena is built, not at the first evaluation."""
    from arena.core.resources import Limit
    from arena.engine import preflight

    monkeypatch.setattr(preflight, "memory_limit", lambda device: Limit(1_000_000_000, "physical memory"))  # a 1 GB machine
    g, d = tiny_raw()["agents"]
    ok = tiny_raw(agents=[{**g, "count": 4}, d], review={"samples": 100_000})
    build_arena(parse_config(ok))  # (4 + 1) x 8 + 8 x 10 bytes x 100,000 = 12 MB
    big = tiny_raw(agents=[{**g, "count": 4}, d], review={"samples": 1_000_000})
    big["agents"][0]["count"] = 100
    with pytest.raises(ConfigError, match=re.escape(
            "review.samples: a review of 1,000,000 samples from each of 100 generators needs about 846.9 MB, "
            "more than 762.9 MB (80% of the 953.7 MB of physical memory on cpu)")):
        build_arena(parse_config(big))


@pytest.mark.parametrize("stage, value", [("balance", {}), ("support", {"neighbours": 3}), ("renoise", {"neighbours": 20})])
def test_the_panels_low_dimensional_stages_are_refused_on_images(stage, value):
    """Kernel and k-NN estimates on 2,352 pixels mean nothing: a config that asks for one on image
    data is refused before training, in one line naming the key."""
    from arena.core.errors import ConfigError

    panel = {"enabled": True, stage: value, **({"refine": {"steps": 2}} if stage == "renoise" else {})}
    raw = tiny_raw(data={"source": "stacked-mnist", "train_size": 64, "test_size": 64}, panel=panel)
    for spec in raw["agents"]:
        spec["net"] = {"type": "dcgan", "widths": [8, 4], "kernel": 3}
    with pytest.raises(ConfigError, match=re.escape(f"panel.{stage}: the {stage} stage is a kernel or k-NN estimate on "
                                                    f"the data itself")):
        build_arena(parse_config(raw))
    raw["panel"] = {"enabled": True, "refine": {"steps": 2}}
    assert build_arena(parse_config(raw)).data.kind.images, "rejection and refinement are welcome on images"
