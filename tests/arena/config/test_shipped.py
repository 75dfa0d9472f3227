"""The shipped configs by name (``arena run tournament_ring8``), their descriptions from their own
comments, and the check that ``agents`` and ``games`` are gan-arena's."""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

import pytest

from arena.config import load_config
from arena.config.shipped import description, find, resolve, shipped
from arena.core.errors import ConfigError
from tests.conftest import CONFIGS, run_cli


def test_every_shipped_config_is_found_by_name_with_or_without_yaml():
    assert list(shipped()) == [p.stem for p in CONFIGS]
    for path in CONFIGS:
        assert find(path.stem) == path and find(path.name) == path
    assert find("configs/ring8") is None and find("no_such_config") is None


def test_a_name_loads_the_shipped_config_and_a_path_that_exists_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    by_name = load_config("tournament_ring8", ["schedule.matchings=3"])
    assert by_name.name == load_config(next(p for p in CONFIGS if p.stem == "tournament_ring8")).name
    assert by_name.schedule.matchings == 3 and by_name.origin.source.endswith("configs/tournament_ring8.yaml")
    local = tmp_path / "tournament_ring8.yaml"
    local.write_text(Path(by_name.origin.source).read_text().replace("name: tournament-ring8", "name: mine", 1))
    assert resolve("tournament_ring8.yaml") == "tournament_ring8.yaml"
    assert load_config("tournament_ring8.yaml").name == "mine"


def test_a_missing_config_names_the_closest_shipped_one(capsys):
    assert run_cli("check", "tournament_ringg") == 2
    err = capsys.readouterr().err
    assert "no such config file (nor a shipped config of that name" in err and "did you mean tournament_ring8?" in err


def test_the_description_is_the_first_sentence_of_the_files_own_comment(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("# GMAN (Durugkar et al., 2016) on the ring: one generator against three\n"
                    "# discriminators. The rest is detail.\n#\n# More.\nname: x\n")
    assert description(path) == "GMAN (Durugkar et al., 2016) on the ring: one generator against three discriminators"
    path.write_text("# " + "word " * 60 + "\nname: x\n")
    short = description(path, width=50)
    assert len(short) <= 50 and short.endswith("word…")
    path.write_text("name: x\n")
    assert description(path) == ""
    assert all(description(p) for p in CONFIGS), [p.name for p in CONFIGS if not description(p)]


def test_arena_list_configs_shows_each_shipped_config_with_its_description(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    assert run_cli("list", "configs") == 0
    out = capsys.readouterr().out
    for path in CONFIGS:
        assert path.stem in out and description(path) in out, path.stem
    assert "gan-v0" not in out  # only the section asked for
    assert run_cli("list", "gamez") == 2
    assert "unknown section 'gamez'" in capsys.readouterr().err


def test_a_package_of_another_distribution_under_our_name_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    from arena.core import clash

    other = tmp_path / "agents"
    other.mkdir()
    (other / "__init__.py").write_text('AGENT = "someone else"\n')
    real = importlib.util.find_spec

    def find_spec(name, *args):
        if name == "agents":
            return importlib.machinery.ModuleSpec("agents", None, origin=str(other / "__init__.py"))
        return real(name, *args)

    monkeypatch.setattr(clash.importlib.util, "find_spec", find_spec)
    with pytest.raises(clash.PackageClash, match=r"the import name 'agents' .* was taken over"):
        clash.check_own_packages()
    assert run_cli("list") == 2
    assert "use a virtual environment of its own" in capsys.readouterr().err
    monkeypatch.setattr(clash.importlib.util, "find_spec", real)
    clash.check_own_packages()  # ours: nothing to say


def test_a_shipped_name_is_not_taken_for_a_file_that_is_missing_elsewhere():
    with pytest.raises(ConfigError, match="no such config file"):
        load_config("somewhere/tournament_ring8.yaml")
