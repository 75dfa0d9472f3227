"""arena/config/safe_yaml.py: hostile YAML is refused at once, with bounded memory, naming the file,
the line and the key path; ordinary anchors, aliases and merge keys still work."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import time

import pytest

from arena.config import MAX_BYTES, MAX_DEPTH, MAX_NODES, load_config
from arena.config.safe_yaml import inspect_yaml, read_yaml
from arena.core.errors import ConfigError
from benchmarks.children import child_env
from tests.conftest import arena_subprocess, tiny_raw

GOOD = """\
name: t
device: cpu
data: {source: ring8, train_size: 1000}
agents:
  - name: g
    role: generator
    latent: {dist: normal, dim: 2}
    net: &net {type: mlp, hidden: [8]}
    optim: &optim {type: adam, lr: 1.0e-3}
  - name: d
    role: discriminator
    net: *net
    optim: {<<: *optim, lr: 2.0e-3}
schedule: {matchings: 2, steps_per_match: 2, batch_size: 8}
"""


def laughs(levels: int, width: int = 10) -> str:
    """The "billion laughs": each level an alias list of ``width`` copies of the one before."""
    lines = ["bomb:", "  l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


HOSTILE = [
    # (text, line, key path, message)
    ("a: &x [1, *x]\n", 1, "a[1]", "alias *x refers to a node that contains it"),
    ("a: &x {b: {c: *x}}\n", 1, "a.b.c", "alias *x refers to a node that contains it"),
    (laughs(12), 6, "bomb.l4[7]", f"the config expands to more than {MAX_NODES:,} values"),
    ("a: " + "[" * (MAX_DEPTH + 5) + "1" + "]" * (MAX_DEPTH + 5) + "\n", 1, "a" + "[0]" * (MAX_DEPTH - 2),
     f"nested more than {MAX_DEPTH} levels deep"),
    ("a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, MAX_DEPTH + 3)) + "  " * (MAX_DEPTH + 3) + "x: 1\n",
     MAX_DEPTH + 1, "a.k1.k2", f"nested more than {MAX_DEPTH} levels deep"),
    ("seed: " + "7" * 5000 + "\n", 1, "seed", "an integer of 5000 characters"),
    ("seed: !!int " + "7" * 5000 + "\n", 1, "seed", "an integer of 5000 characters"),
    ("seed: 0x" + "f" * 100 + "\n", 1, "seed", "an integer of 102 characters"),
    ("seed: 1\nname: a\nseed: 2\n", 3, "seed", "duplicate key 'seed' (also on line 1)"),
    ("agents:\n  - {name: g, role: generator, name: h}\n", 2, "agents[0].name", "duplicate key 'name'"),
]


@pytest.mark.parametrize("text, line, path, message", HOSTILE, ids=[
    "alias-in-itself", "alias-in-itself-deep", "billion-laughs", "deep-flow", "deep-block", "long-int", "long-int-tag",
    "long-hex", "duplicate-key", "duplicate-key-in-list"])
def test_hostile_yaml_is_refused_at_once_with_line_and_key_path(tmp_path, text, line, path, message):
    file = tmp_path / "hostile.yaml"
    file.write_text(text)
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        load_config(file)
    assert time.perf_counter() - started < 5, "refused without expanding or recursing"
    err = str(caught.value)
    assert err.startswith(f"{file}:{line}: {path}"), err
    assert message in err, err
    assert "\n" not in err


def test_an_exponential_alias_bomb_costs_neither_time_nor_memory():
    """10^30 values if expanded: the event pass stops at the limit, builds nothing and holds only the anchors."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="expands to more than"):
        inspect_yaml(laughs(30), "bomb.yaml")
    assert time.perf_counter() - started < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_a_file_larger_than_the_limit_is_refused_unread(tmp_path):
    file = tmp_path / "big.yaml"
    file.write_text("name: t\n" + "# padding\n" * (MAX_BYTES // 10 + 1))
    with pytest.raises(ConfigError, match=re.escape(f"{file}: the config file is {file.stat().st_size:,} bytes; at most {MAX_BYTES:,} are read")):
        load_config(file)


def test_set_values_pass_the_same_checks(write_config):
    path = write_config(tiny_raw())
    with pytest.raises(ConfigError, match=re.escape("--set: seed: cannot read value")) as caught:
        load_config(path, ["seed=" + "9" * 5000])
    assert "an integer of 5000 characters" in str(caught.value)
    with pytest.raises(ConfigError, match="alias"):
        load_config(path, ["data=&x [*x]"])


def test_anchors_aliases_and_merge_keys_still_work(tmp_path):
    file = tmp_path / "good.yaml"
    file.write_text(GOOD)
    config = load_config(file)
    assert config.agents[1].net == {"type": "mlp", "hidden": [8]}
    assert config.agents[1].optim == {"type": "adam", "lr": 2.0e-3}
    assert read_yaml("a: &a 1\nb: *a\n", "x") == {"a": 1, "b": 1}


def test_the_command_line_refuses_hostile_yaml_before_importing_torch(tmp_path):
    """One line on stderr, exit 2, nothing written, and torch never imported (a fifth of a second)."""
    file = tmp_path / "bomb.yaml"
    file.write_text(laughs(30))
    done = arena_subprocess("check", file, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "expands to more than" in done.stderr
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from arena.cli import main; code = main(['run', sys.argv[1], '--quiet']); "
                               "print(code, 'torch' in sys.modules)", str(file)],
        capture_output=True, text=True, cwd=tmp_path, env=child_env())
    assert probe.stdout.split() == ["2", "False"], probe.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.yaml"]
