"""arena/cli/reading.py: the commands that read runs and configs."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from arena.cli import main
from arena.rundir import RunDir
from tests.conftest import (
    CONFIGS,
    run_cli,
    tiny_raw,
    tiny_tournament,
)


def test_cli_leaderboard_ratings_and_mixture(tmp_path, write_config, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    path = write_config(tiny_tournament(schedule={"matchings": 4, "steps_per_match": 5}, mixture={"top": 2, "weights": "rating"}))
    run = tmp_path / "run"
    assert main(["run", str(path), "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["leaderboard", str(run)]) == 0
    out = capsys.readouterr().out
    assert "g0" in out and "d2" in out and "mixture" in out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, "fits an 80-column terminal"
    for agent in ("g0", "g1", "g2", "d0", "d1", "d2"):
        rows = [i for i, line in enumerate(lines) if re.match(rf"\s*\d+\s+{agent}\s+[GD]\s+\d+", line)]
        assert len(rows) == 1 and not lines[rows[0] + 1].startswith("      "), f"{agent}'s row is one line"
    for system in ("elo", "glicko2", "bradley-terry"):
        assert main(["ratings", str(run), "--system", system]) == 0
        assert system in capsys.readouterr().out
    assert main(["ratings", str(run), "--system", "trueskill"]) == 2
    assert "unknown rating system 'trueskill'" in capsys.readouterr().err
    assert main(["sample", str(run), "--mixture", "-n", "500", "--seed", "4", "-o", str(tmp_path / "m.npy")]) == 0
    assert main(["sample", str(run), "--mixture", "-n", "500", "--seed", "4", "-o", str(tmp_path / "m2.npy")]) == 0

    a, b = np.load(tmp_path / "m.npy"), np.load(tmp_path / "m2.npy")
    assert a.shape == (500, 2) and (a == b).all()
    saved = RunDir(run).load_checkpoint()["standings"]["mixture"]
    assert main(["eval", str(run), "--mixture"]) == 0
    evaluated = json.loads((run / "eval.json").read_text())["mixture"]
    assert evaluated["samples"] == 2500 and len(saved["components"]) == 2


def test_sample_errors(tmp_path, write_config, capsys):
    out = tmp_path / "run"
    assert run_cli("run", write_config(tiny_raw(schedule={"matchings": 1})), "--out", out, "--quiet") == 0
    assert run_cli("sample", out, "--agent", "d", "-n", 5, "-o", tmp_path / "x.npy") == 2
    assert "d is a discriminator" in capsys.readouterr().err
    assert run_cli("sample", out, "--agent", "zz", "-n", 5, "-o", tmp_path / "x.npy") == 2
    assert "no agent named 'zz'" in capsys.readouterr().err
    assert run_cli("sample", out, "-n", 5, "-o", tmp_path / "x.txt") == 2
    assert "expected a .npy or .png file" in capsys.readouterr().err
    assert run_cli("sample", tmp_path / "nope", "-n", 5, "-o", tmp_path / "x.npy") == 2
    assert "is not a run directory" in capsys.readouterr().err


@pytest.mark.parametrize("config", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_passes_check(config, capsys):
    from tests.golden import EXTRA, FOLDER, image_folder

    folder = ["--set", f"data.root={image_folder()}", *(x for o in EXTRA[config.stem] for x in ("--set", o))] \
        if config.stem in FOLDER else []
    assert run_cli("check", config, *folder) == 0
    assert ": ok: " in capsys.readouterr().out


def test_check_reports_a_bad_config_in_one_line_with_exit_2(write_config, capsys):
    raw = tiny_raw()
    raw["agents"][1]["optim"]["lr"] = "fast"
    path = write_config(raw)
    assert run_cli("check", path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{path}:" in err and "agents[1].optim.lr: expected a positive number, got 'fast'" in err


def test_list_shows_the_registries(capsys):
    assert run_cli("list") == 0
    out = capsys.readouterr().out
    from arena.plugins import registries

    for title, registry in registries().items():
        assert title in out
        for id in registry.ids():
            assert id in out, (title, id)
    for word in ("gan-v0", "maxout-mlp", "ring8", "adam", "round-robin", "glicko2", "quality", "parzen"):
        assert word in out, word
    assert "uniform on [low, high] in each coordinate" in out, "rich must not read [low, high] as markup"


def test_text_in_square_brackets_is_never_eaten_as_markup(capsys):
    """A plug-in's description, or a path, holding [brackets] prints as written."""
    from arena.plugins import registries

    registry = next(iter(registries().values()))
    registry.register("bracketed-test-entry", lambda **kw: None, "keeps [low, high] and [bold]x[/bold] literally")
    try:
        assert run_cli("list") == 0
        out = capsys.readouterr().out
        assert "keeps [low, high] and [bold]x[/bold] literally" in re.sub(r"\s+", " ", out)
    finally:
        registry._entries.pop("bracketed-test-entry", None)


def test_check_refuses_a_device_this_machine_lacks_as_run_does(write_config, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    path = write_config(tiny_raw(device="cuda"))
    assert run_cli("check", path) == 2
    check = capsys.readouterr().err
    assert run_cli("run", path, "--quiet", "--out", path.parent / "r") == 2
    run = capsys.readouterr().err
    assert "device: device 'cuda' asked for, but this torch has no usable CUDA" in check
    assert check.split("error: ")[1] == run.split("error: ")[1]


def test_sampling_a_run_warns_only_about_options_it_uses(tmp_path, write_config, recwarn):
    """A run trained with CUDA-only compute options (here on the CPU, which warns once when it
    trains) is sampled and evaluated without warnings about them: reading never uses them."""
    import warnings

    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert run_cli("run", write_config(tiny_raw(compute={"cuda_graphs": True, "precision": "bf16"})),
                       "--out", run, "--quiet") == 0
    recwarn.clear()
    assert run_cli("sample", run, "-n", 8, "-o", tmp_path / "x.npy") == 0
    assert run_cli("eval", run, "-n", 32) == 0
    assert not [w for w in recwarn if "compute." in str(w.message)], [str(w.message) for w in recwarn]
