"""arena/report/compare.py and `arena compare`: mean ± s.e. and worst seed per metric, Welch's
t-test between groups, and numbers measured under different protocols refused."""

from __future__ import annotations

import json
import math

import pytest

from arena.core.errors import ArenaError
from arena.evaluation.protocol import EVALUATOR, protocol
from arena.report.compare import DIRECTION, Group, compare, summarize, welch
from tests.conftest import run_cli, tiny_raw


def test_summaries_on_known_values():
    s = summarize([1.0, 2.0, 3.0], "higher")
    assert s["mean"] == 2.0 and s["se"] == pytest.approx(1 / math.sqrt(3)) and s["worst"] == 1.0 and s["n"] == 3
    assert summarize([1.0, 2.0, 3.0], "lower")["worst"] == 3.0
    assert summarize([5.0], "higher")["se"] is None
    assert summarize([1.0, 3.0], None)["worst"] is None


def test_welch_against_hand_computed_values():
    # a = 1, 2, 3; b = 4, 5, 6: t = -3 / sqrt(1/3 + 1/3) = -3.674 with 4 degrees of freedom: p = 0.02131
    assert welch([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == pytest.approx(0.021311641128756727, rel=1e-9)
    # unequal variances: t = (11.5 - 20) / sqrt(5/3/4 + 100/3) = -1.463 and Welch-Satterthwaite
    # df = 33.75^2 / ((5/12)^2 / 3 + (100/3)^2 / 2) = 2.050; p = 2 P(T_df > 1.463)
    from scipy.stats import t as student

    se2 = (5 / 3) / 4 + 100 / 3
    t = (11.5 - 20) / math.sqrt(se2)
    df = se2**2 / (((5 / 3) / 4) ** 2 / 3 + (100 / 3) ** 2 / 2)
    assert df == pytest.approx(2.050, abs=1e-3)
    assert welch([10.0, 11.0, 12.0, 13.0], [10.0, 20.0, 30.0]) == pytest.approx(2 * student.sf(abs(t), df), rel=1e-9)
    assert welch([1.0], [2.0, 3.0]) is None and welch([1.0, 1.0], [1.0, 1.0]) == 1.0


def group(label, values, samples=2500):
    return Group(label, {f"seed {i}": {"metrics": {"high_quality": v, "reverse_kl": 1 / v}, "protocol": protocol(samples, i),
                                       "source": "eval"} for i, v in enumerate(values)})


def test_compare_summarizes_and_tests_each_group_against_the_first():
    table = compare([group("a", [50.0, 60.0, 70.0]), group("b", [90.0, 91.0, 92.0])])
    assert table.metrics == ["high_quality", "reverse_kl"]
    a, b = table.cells["high_quality"]
    assert a["mean"] == 60.0 and a["worst"] == 50.0 and b["worst"] == 90.0
    assert table.cells["reverse_kl"][0]["worst"] == pytest.approx(1 / 50)
    assert 0 < table.pvalues["high_quality"][0] < 0.05
    md = table.markdown()
    assert md.startswith("| metric | a (n=3) | b (n=3) | p (b vs a) |")
    assert "| high_quality | 60 ± 5.77 [50] | 91 ± 0.577 [90] |" in md and f"2500 samples per run, split test, {EVALUATOR}" in md


def test_numbers_measured_differently_are_not_compared_unless_asked():
    with pytest.raises(ArenaError, match="was measured under another protocol"):
        compare([group("a", [50.0, 60.0]), group("b", [90.0, 91.0], samples=500)])
    assert compare([group("a", [50.0, 60.0]), group("b", [90.0, 91.0], samples=500)], any_protocol=True).metrics


def test_arena_compare_over_seeds_through_the_cli(tmp_path, write_config, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fast = write_config(tiny_raw(schedule={"matchings": 2, "steps_per_match": 10}, review={"every": 2}), "fast.yaml")
    slow = write_config(tiny_raw(schedule={"matchings": 2, "steps_per_match": 2}, review={"every": 2}), "slow.yaml")
    assert run_cli("run", fast, "--seeds", "0,1,2", "--out", tmp_path / "fast", "--quiet") == 0
    assert run_cli("run", slow, "--seeds", "0,1,2", "--out", tmp_path / "slow", "--quiet") == 0
    index = json.loads((tmp_path / "fast" / "seeds.json").read_text())
    assert index["seeds"] == [0, 1, 2] and set(index["outputs"]) == {"0", "1", "2"}
    assert index["outputs"]["1"]["protocol"] == protocol(200, "derived")
    capsys.readouterr()
    assert run_cli("compare", tmp_path / "fast", tmp_path / "slow", "-o", tmp_path / "table.md") == 0
    out = capsys.readouterr().out
    assert "fast (n=3)" in out and "slow (n=3)" in out and "high_quality" in out and "p (slow vs fast)" in out
    md = (tmp_path / "table.md").read_text()
    assert md.count("\n| ") >= 3 and "Welch" in md
    # arena eval with different sample counts: a different protocol, refused
    for seed in range(3):
        assert run_cli("eval", tmp_path / "fast" / f"seed-{seed}", "-n", 300) == 0
        assert run_cli("eval", tmp_path / "slow" / f"seed-{seed}", "-n", 400) == 0
    capsys.readouterr()
    assert run_cli("compare", tmp_path / "fast", tmp_path / "slow") == 2
    assert "was measured under another protocol (400 samples" in capsys.readouterr().err
    assert run_cli("compare", tmp_path / "fast", tmp_path / "slow", "--any-protocol") == 0


def test_the_worst_spread_is_the_one_furthest_from_the_datas():
    assert DIRECTION["spread"] == "one"
    assert summarize([0.9, 0.5, 1.3], "one")["worst"] == 0.5
    assert summarize([0.9, 0.8, 1.3], "one")["worst"] == 1.3
