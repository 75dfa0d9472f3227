"""The commands the README and docs/ show are run, so that they cannot rot.

Every ``arena ...`` (and ``python -m arena ...``) line of a ```bash block in README.md and
docs/*.md runs, in order, page by page, in a scratch directory that holds the shipped configs
(and, for the page on your own images, a folder ``my-images`` of 160 generated pictures),
with the golden runs' tiny budgets (tests/golden.py) added to every ``arena run``, and must exit
0. ``runs/NAME-<time>`` stands for the newest run directory of that name. Not run here: ``make``
(the whole install and the default job: ``.ci/run`` and a fresh clone check those),
``torchrun`` (tests/arena/engine/test_distributed.py plays the distributed path) and the
benchmark scripts (minutes to hours each).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.golden import COMMON, EXTRA, PANEL

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TINY_SEEDS = "0,1"
"""``--seeds`` lists are cut to two seeds: the command is the same, the test a third shorter."""


def commands(page: Path) -> list[str]:
    """The arena command lines of ``page``'s bash blocks, comments and continuations resolved."""
    out: list[str] = []
    for block in re.findall(r"^```bash\n(.*?)^```", page.read_text(), re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith("python -m arena "):
                line = line.removeprefix("python -m ")
            if line.startswith("arena ") and "..." not in line:
                out.append(line)
    return out


def tiny(argv: list[str]) -> list[str]:
    """``arena run CONFIG ...`` on the golden runs' budget (the command's own --set values win)."""
    if argv[:1] != ["run"]:
        return argv
    config = Path(argv[1]).stem
    budget = [*COMMON, *EXTRA.get(config, []), "review.pictures=false"]  # pictures: tests/arena/recording
    if "grid25" in config or config == "tournament_ring8":  # the panel on a budget (tests/golden.py PANEL)
        budget += [x for x in PANEL if x not in budget]
    if "ring8" in config or "grid25" in config:
        budget.append("data.test_size=1000")  # the panel's kernel estimates run over the held-out data
    argv = [TINY_SEEDS if i > 0 and argv[i - 1] == "--seeds" else a for i, a in enumerate(argv)]
    return [*argv[:2], *(x for b in budget for x in ("--set", b)), *argv[2:], "--quiet"]


def resolved(argv: list[str], here: Path) -> list[str]:
    """``runs/NAME-<time>`` replaced by the newest such run directory under ``here``."""
    out = []
    for a in argv:
        if "<time>" in a:
            prefix = a.split("<time>", 1)[0]
            found = sorted((here / Path(prefix).parent).glob(Path(prefix).name + "*"), key=lambda p: p.stat().st_mtime)
            assert found, f"no run directory for {a}: the docs use it before a command makes it"
            a = str(found[-1].relative_to(here)) + a.split("<time>", 1)[1]
        out.append(a)
    return out


PAGES_WITH_COMMANDS = [p for p in PAGES if commands(p)]


def test_the_pages_show_commands():
    names = {p.name for p in PAGES_WITH_COMMANDS}
    assert {"README.md", "concepts.md"} <= names, names


@pytest.mark.parametrize("page", PAGES_WITH_COMMANDS, ids=[p.name for p in PAGES_WITH_COMMANDS])
def test_every_command_the_docs_show_runs(page, tmp_path, monkeypatch, capsys):
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    if "my-images" in page.read_text():  # docs/own-images.md: the reader's folder of images
        from benchmarks.image_folder import make_folder

        make_folder(tmp_path / "my-images", 160)
    monkeypatch.chdir(tmp_path)
    for line in commands(page):
        argv = resolved(tiny(shlex.split(line)[1:]), tmp_path)
        try:
            code = run_cli(*argv)
        except SystemExit as stop:  # --version, --help
            code = stop.code or 0
        captured = capsys.readouterr()
        assert code == 0, f"{page.name}: `{line}` exited {code}\n{captured.err[-3000:]}"
