"""arena/report/: one self-contained HTML page per run (and per directory of seeds), written at
the end of every run, rebuildable at any time (also while the run is going), and checked in a
real browser where Chromium is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import arena
from arena.config import parse_config
from arena.report.build import build_report
from arena.rundir import RunDir
from tests.conftest import records, run_cli, tiny_pool, tiny_raw

SECTIONS = ["output", "leaderboard", "ratings", "payoff", "payoff-history", "lineage", "samples", "training", "metrics",
            "events", "config"]


def tournament_raw(**changes) -> dict:
    raw = tiny_pool(3, 3, schedule={"matchings": 4, "steps_per_match": 5},
                   review={"every": 2, "samples": 300}, selection={"every": 2, "replace": 1}, log={"report": True, "every": 1})
    raw.update(changes)
    return raw


@pytest.fixture(scope="module")
def tournament(tmp_path_factory) -> Path:
    """A 3 x 3 tournament that writes its report when it ends."""
    out = tmp_path_factory.mktemp("report") / "run"
    arena.run(parse_config(tournament_raw()), out=out)
    return out


def test_every_run_ends_with_its_report(tournament):
    page = (tournament / "report.html").read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in page, section
    assert "finished" in page and "matching 4 of 4" in page
    fixed = RunDir(tournament).fixed_samples()
    assert sorted(fixed) == [2, 4] and sorted(fixed[4]) == ["g0", "g1", "g2", "mixture"]
    assert fixed[2]["g0"].shape == (500, 2)


def test_the_report_is_self_contained(tournament):
    """No server, no network: every image is a data URI, there is no external script, style or font."""
    page = (tournament / "report.html").read_text()
    assert not re.search(r"""(src|href)=["'](https?:|//)""", page)
    assert "@import" not in page and "<link" not in page
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == len(SECTIONS) - 4 and all(src.startswith("data:image/png;base64,") for src in images)
    assert len(page) < 5_000_000


def test_the_report_shows_the_runs_numbers(tournament):
    page = (tournament / "report.html").read_text()
    board = RunDir(tournament).leaderboard()
    for row in board["rows"]:
        assert f">{row['agent']}<" in page
    lineage = json.loads((tournament / "lineage.json").read_text())
    copies = [r for r in lineage if r["parent"]]
    assert copies and all(f"{r['replaced']} became a copy of {r['parent']}" in page for r in copies)
    mixture = json.loads((tournament / "mixture.json").read_text())
    assert "the mixture of " + ", ".join(f"{c} ({w:.2f})" for c, w in zip(mixture["components"], mixture["weights"])) in page
    assert "seed: 0" in page  # the resolved config


def test_the_report_shows_each_generator_as_arena_eval_measured_it(tournament, tmp_path):
    """After `arena eval`, the output section shows every generator alone (a family's members
    too), with its weight in the mixture: where the output comes from. Not before."""
    run = tmp_path / "run"
    shutil.copytree(tournament, run)
    assert 'id="members"' not in build_report(run, tmp_path / "before.html").read_text()
    assert run_cli("eval", run, "-n", 200) == 0
    measured = json.loads((run / "eval.json").read_text())
    page = build_report(run, tmp_path / "after.html").read_text()
    table = re.search(r'id="members".*?</table>', page, re.S).group(0)
    weights = dict(zip(*(json.loads((run / "mixture.json").read_text())[k] for k in ("components", "weights"))))
    for name, record in measured.items():
        cells = re.search(rf"<tr><td class=\"left\">{re.escape(name)}</td>(.*?)</tr>", table, re.S).group(1)
        assert f">{record['modes']}<" in cells and f">{record['samples']}<" in cells, name
        assert f">{weights[name]:.4g}<" in cells and record["weight"] == pytest.approx(weights[name]), name


def test_the_report_can_be_rebuilt_while_a_run_is_going(tournament, tmp_path):
    """A copy of the run directory as it stood mid-run (two evaluations' worth of log, a line cut
    in half, no final files yet) still gives a report, marked in progress."""
    mid = tmp_path / "mid"
    shutil.copytree(tournament, mid)
    lines = (mid / "metrics.jsonl").read_text().splitlines(keepends=True)
    cut = max(i for i, line in enumerate(lines) if '"matching": 2' in line) + 1
    (mid / "metrics.jsonl").write_text("".join(lines[:cut]) + lines[cut][: len(lines[cut]) // 2])
    (mid / "samples" / "fixed-000004.npz").unlink()
    for name in ("report.html", "leaderboard.json", "mixture.json"):
        (mid / name).unlink()
    path = build_report(mid)
    page = path.read_text()
    assert "in progress" in page and "matching 2 of 4" in page


def test_arena_report_writes_where_asked(tournament, tmp_path, capsys):
    out = tmp_path / "elsewhere" / "r.html"
    assert run_cli("report", tournament, "-o", out) == 0
    assert out.is_file() and f"wrote {out}" in capsys.readouterr().out
    assert run_cli("report", tmp_path) == 2
    assert "is not a run directory" in capsys.readouterr().err


def test_a_directory_of_seeds_gets_a_report(tmp_path, write_config, capsys):
    raw = tiny_raw(schedule={"matchings": 2, "steps_per_match": 5}, review={"every": 2}, log={"report": True})
    assert run_cli("run", write_config(raw), "--seeds", "0,1", "--out", tmp_path / "seeds", "--quiet") == 0
    assert "seeds finished" in capsys.readouterr().out
    page = (tmp_path / "seeds" / "report.html").read_text()
    assert '<section id="seeds">' in page and "seed 0" in page and "seed 1" in page and "mean &plusmn; s.e." in page
    assert (tmp_path / "seeds" / "seed-1" / "report.html").is_file()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install -y chromium)")
@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_the_report_in_a_real_browser(tournament, tmp_path, width):
    """Headless Chromium loads the page from disk, runs its script without an error (the script
    marks the page ready as its last statement), shows every section, and takes a screenshot."""
    url = (tournament / "report.html").as_uri()
    profile = ["--user-data-dir=" + str(tmp_path / "profile"), f"--window-size={width},2400"]
    dom = subprocess.run([CHROMIUM, *FLAGS, *profile, "--enable-logging=stderr", "--v=0", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-ready="1"' in dom.stdout, "the page's script ran to its end"
    assert "Uncaught" not in dom.stderr and "SyntaxError" not in dom.stderr
    for section in SECTIONS:
        assert f'id="{section}"' in dom.stdout
    shot = tmp_path / f"report-{width}.png"
    done = subprocess.run([CHROMIUM, *FLAGS, *profile, f"--screenshot={shot}", url], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (width, 2400)
        colours = im.convert("RGB").resize((64, 64)).getcolors(64 * 64)
    assert colours and len(colours) > 20, "the page shows more than a blank screen"


@pytest.mark.parametrize("name", ["digits", "reinforce_discrete", "gaussian1d", "gman", "lipizzaner_grid", "tournament_ring8"])
def test_every_kind_of_data_gets_a_report(name, shipped_runs, tmp_path):
    """Images, categorical symbols, a 1-D density, a multi-player game, a grid with selection and
    the default tournament (EMA, the panel): the report of a short run of each shipped config
    (whose runs write no report of their own)."""
    run_dir, _ = shipped_runs(name)
    page = build_report(run_dir, tmp_path / "report.html").read_text()
    for section in ("output", "leaderboard", "payoff", "training", "metrics", "events", "config"):
        assert f'<section id="{section}">' in page, section
    if name == "tournament_ring8":  # its output is the mixture through the panel, measured as such
        judges = json.loads((run_dir / "mixture.json").read_text())["panel"]["judges"]
        output = [r for r in records(run_dir) if r["kind"] == "eval" and r["agent"] == "output"][-1]
        assert f"filtered by the panel of {', '.join(judges)}" in page
        cards = re.search(r'<section id="output">(.*?)</section>', page, re.S).group(1)
        for key in ("acceptance", "reverse_kl"):
            if output[key] is None:  # undefined (null in the log): no card
                continue
            assert f'<div class="v">{output[key]:.4g}</div>' in cards, key
