"""arena/config/: every mistake is named by file, line and key path; overrides; the resolved config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from arena.cli import main
from arena.config import config_to_dict, dump_config, load_config, parse_config
from arena.core.errors import ConfigError
from arena.engine.arena import build_arena
from tests.conftest import tiny_pool, tiny_raw, tiny_tournament

GOOD_TEXT = """\
name: t
device: cpu
data: {source: ring8, train_size: 1000}
agents:
  - name: g
    role: generator
    latent: {dist: normal, dim: 2}
    net: {type: mlp, hidden: [8]}
    optim: {type: adam, lr: 1.0e-3}
  - name: d
    role: discriminator
    net: {type: mlp, hidden: [8]}
    optim: {type: adam, lr: 1.0e-3}
schedule: {matchings: 2, steps_per_match: 2, batch_size: 8}
"""

# (text in GOOD_TEXT, what replaces it, the message the broken config must produce)
CASES = [
    ("    optim: {type: adam, lr: 1.0e-3}\n  - name: d", "    optim: {type: adam, lr: fast}\n  - name: d",
     "config.yaml:9: agents[0].optim.lr: expected a positive number, got 'fast'"),
    ("schedule: {matchings: 2,", "schedule: {matchings: 0,",
     "config.yaml:14: schedule.matchings: expected a positive integer, got 0"),
    ("schedule: {matchings: 2,", "schedule: {matchngs: 2,",
     "config.yaml:14: schedule.matchngs: unknown key 'matchngs'; did you mean 'matchings'?"),
    ("device: cpu", "device: gpu", "config.yaml:2: device: expected auto, cpu, cuda, cuda:N or mps, got 'gpu'"),
    ("    role: generator", "    role: generatr", "config.yaml:6: agents[0].role: expected one of 'generator', 'discriminator', got 'generatr'; did you mean 'generator'?"),
    ("net: {type: mlp, hidden: [8]}\n    optim: {type: adam, lr: 1.0e-3}\n  - name: d",
     "net: {type: mlp, hidden: [8, -1]}\n    optim: {type: adam, lr: 1.0e-3}\n  - name: d",
     "config.yaml:8: agents[0].net.hidden[1]: expected a positive integer, got -1"),
    ("net: {type: mlp, hidden: [8]}\n    optim: {type: adam, lr: 1.0e-3}\nschedule",
     "net: {type: mpl, hidden: [8]}\n    optim: {type: adam, lr: 1.0e-3}\nschedule",
     "config.yaml:12: agents[1].net.type: unknown network 'mpl'; did you mean 'mlp'?"),
    ("data: {source: ring8, train_size: 1000}", "data: {source: ring9}", "config.yaml:3: data.source: unknown data source 'ring9'; did you mean 'ring8'?"),
    ("data: {source: ring8, train_size: 1000}", "data: {source: ring8, train_size: -5}", "config.yaml:3: data.train_size: expected a positive integer, got -5"),
    ("    latent: {dist: normal, dim: 2}\n", "", "config.yaml:5: agents[0].latent: a generator needs a latent prior"),
    ("  - name: d\n", "  - name: g\n", "config.yaml:10: agents[1].name: agent name 'g' is used twice (also by agents[0])"),
    ("  - name: d\n    role: discriminator\n    net: {type: mlp, hidden: [8]}\n    optim: {type: adam, lr: 1.0e-3}\n", "",
     "config.yaml:4: agents: the game needs at least one discriminator"),
    ("name: t\n", "name: t\ngame: {id: gan-v9}\n", "config.yaml:2: game.id: unknown game 'gan-v9'; did you mean 'gan-v0'"),
    ("name: t\n", "name: t\ngame: {id: gan-v0, k: 2}\n", "config.yaml:2: game.k: unknown key 'k' for game 'gan-v0'"),
    ("name: t\n", "name: t\nseed: -1\n", "config.yaml:2: seed: expected a non-negative integer, got -1"),
    ("name: t\n", "name: t\nsched: {}\n", "config.yaml:2: sched: unknown key 'sched'; did you mean 'schedule'?"),
    ("schedule: {matchings: 2, steps_per_match: 2, batch_size: 8}", "schedule: {matchings: 2, steps_per_match: 2, batch_size: 5000}",
     "config.yaml:14: schedule.batch_size: batch size 5000 is larger than the 1000 training samples"),
    ("    net: {type: mlp, hidden: [8]}\n    optim: {type: adam, lr: 1.0e-3}\nschedule",
     "    net: {type: mlp, hidden: [8]}\n    latent: {dist: normal, dim: 2}\n    optim: {type: adam, lr: 1.0e-3}\nschedule",
     "config.yaml:13: agents[1].latent: only generators have a latent prior"),
]


@pytest.mark.parametrize("old, new, message", CASES, ids=[c[2].split(": ")[1] for c in CASES])
def test_broken_config_is_rejected_with_file_line_and_key_path(write_config, old, new, message):
    assert old in GOOD_TEXT
    path = write_config(GOOD_TEXT.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        build_arena(load_config(path))
    assert str(info.value).startswith(str(path.parent) + "/")
    assert message in str(info.value)


def test_good_text_builds(write_config):
    arena = build_arena(load_config(write_config(GOOD_TEXT)))
    assert [a.name for a in arena.generators] == ["g"] and arena.game.id == "gan-v0"


def test_invalid_yaml_names_the_line(write_config):
    path = write_config("name: t\nagents: [\n  - x: 1\n")
    with pytest.raises(ConfigError, match=r"config\.yaml:\d+: invalid YAML"):
        load_config(path)


def test_missing_and_empty_files(tmp_path, write_config):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="the config is empty"):
        load_config(write_config(""))
    with pytest.raises(ConfigError, match="expected a mapping at the top level, got list"):
        load_config(write_config("- 1\n- 2\n"))


def test_empty_agent_list(write_config):
    with pytest.raises(ConfigError, match=re.escape("agents: expected at least one generator and one discriminator, got an empty list")):
        load_config(write_config(tiny_raw(agents=[])))


def test_count_zero(write_config):
    raw = tiny_raw()
    raw["agents"][0]["count"] = 0
    with pytest.raises(ConfigError, match=re.escape("agents[0].count: expected an integer in [1, 4096], got 0")):
        load_config(write_config(raw))


def test_overrides_apply_and_errors_name_set(write_config):
    path = write_config(GOOD_TEXT)
    config = load_config(path, ["schedule.matchings=7", "agents[0].optim.lr=0.5", "agents.1.count=3", "data.train_size=500"])
    assert config.schedule.matchings == 7
    assert config.agents[0].optim["lr"] == 0.5
    assert config.discriminator_names == ["d0", "d1", "d2"]
    assert config.data == {"source": "ring8", "train_size": 500}
    with pytest.raises(ConfigError, match=re.escape("--set: schedule.matchings: expected a positive integer, got 'many'")):
        load_config(path, ["schedule.matchings=many"])
    with pytest.raises(ConfigError, match=re.escape("--set: agents[5]: no item 5 here")):
        load_config(path, ["agents.5.count=2"])
    with pytest.raises(ConfigError, match=re.escape("expected key.path=value")):
        load_config(path, ["schedule.matchings"])
    with pytest.raises(ConfigError, match=re.escape("--set: agents[0].optim.lr: expected a positive number, got 'fast'")):
        build_arena(load_config(path, ["agents.0.optim.lr=fast"]))


def test_count_expands_names():
    raw = tiny_raw()
    raw["agents"][0]["count"] = 3
    config = parse_config(raw)
    assert config.generator_names == ["g0", "g1", "g2"] and config.discriminator_names == ["d"]


def test_resolved_config_round_trips(write_config):
    config = load_config(write_config(GOOD_TEXT))
    text = dump_config(config)
    again = parse_config(yaml.safe_load(text))
    assert config_to_dict(again) == config_to_dict(config)
    assert list(config_to_dict(config))[:3] == ["name", "seed", "device"]
    assert yaml.safe_load(text)["schedule"]["batch_size"] == 8


BROKEN_DIR = Path(__file__).parent / "broken_configs"
BROKEN_FILES = sorted(BROKEN_DIR.glob("*.yaml"))


def _expected(path: Path) -> str:
    last = path.read_text().rstrip().splitlines()[-1]
    assert last.startswith("# expect: "), path
    return last[len("# expect: "):]


@pytest.mark.parametrize("path", BROKEN_FILES, ids=[p.stem for p in BROKEN_FILES])
def test_broken_config_corpus(path, capsys):
    """Each file in broken_configs/ ends with '# expect: <message>': `arena check` must exit 2
    with one line on stderr that names the file and holds that message (line and key path first)."""
    from arena.cli.commands import main

    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    expected = _expected(path)
    where = f"{path}:" if expected[0].isdigit() else f"{path}: "
    assert where + expected in err, err


def test_configs_written_before_the_renames_keep_working_for_one_release_with_a_warning():
    """``eval`` is ``review``, ``compute.matchings`` is ``compute.execution``, and the panel's flat
    stage keys are its nested stages; run directories written before keep their config."""
    import warnings

    from arena.config import parse_config
    from tests.conftest import tiny_raw

    raw = tiny_raw()
    raw["eval"] = raw.pop("review")
    raw["compute"] = {"matchings": "one-by-one"}
    raw["panel"] = {"enabled": True, "refine_steps": 5, "refine_lr": 0.05, "balance": True, "balance_acceptance": 0.3,
                    "support": 3, "renoise": 0}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = parse_config(raw)
    [warning] = [w for w in caught if issubclass(w.category, FutureWarning)]
    text = str(warning.message)
    assert "eval is now review" in text and "compute.matchings is now compute.execution" in text and "next release" in text
    assert config.review.every == 3 and config.compute.execution == "one-by-one"
    panel = config.panel
    assert (panel.refine.steps, panel.refine.lr, panel.refine.to) == (5, 0.05, "peak")
    assert panel.balance.acceptance == 0.3 and panel.support.neighbours == 3 and panel.renoise is None
    assert raw["eval"] == {"every": 3, "samples": 200, "pictures": False}, "the caller's mapping is left alone"

    both = tiny_raw(compute={"execution": "auto"})
    both["compute"]["matchings"] = "batched"
    with pytest.raises(ConfigError, match=re.escape("compute.matchings is the old name of compute.execution; set only "
                                                    "compute.execution")):
        parse_config(both)


def test_the_panels_stages_are_checked_where_the_section_is_defined():
    from arena.config import PanelConfig, parse_config
    from tests.conftest import tiny_raw

    assert PanelConfig().low_dimensional_stages == []
    with pytest.raises(ConfigError, match=re.escape("panel.renoise: the renoise stage puts back the noise")):
        parse_config(tiny_raw(panel={"enabled": True, "renoise": {}}))
    on = parse_config(tiny_raw(panel={"enabled": True, "refine": {"steps": 2}, "support": {}, "renoise": {}}))
    assert on.panel.low_dimensional_stages == ["support", "renoise"] and on.panel.support.neighbours == 3


def test_bad_tournament_configs_name_the_key(write_config, capsys):
    bad = tiny_tournament(selection={"every": 3})
    assert main(["check", str(write_config(bad))]) == 2
    assert "selection.every: selection uses the ratings of the latest review" in capsys.readouterr().err
    grid = tiny_pool(2, 3, schedule={"type": "grid"})
    path = write_config(grid, "grid.yaml")
    assert main(["run", str(path), "--out", str(path.parent / "r"), "--quiet"]) == 2
    assert "schedule.type: the grid schedule needs as many generators as discriminators" in capsys.readouterr().err
