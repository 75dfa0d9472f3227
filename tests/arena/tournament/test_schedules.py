"""Schedules: valid matchings, equal meeting counts, Lipizzaner's neighbourhoods, the best in every match."""

from __future__ import annotations

import itertools
import re
from collections import Counter

import pytest

from arena.core.errors import ConfigError
from arena.tournament.schedules import AllVsBest, GridSchedule, RandomSchedule, RoundRobin, grid_shape, make_schedule, schedules

SIZES = [(1, 1), (1, 4), (4, 1), (2, 3), (4, 4), (3, 5), (8, 8)]


def assert_valid(matching, n, m):
    gens = [g for g, _ in matching]
    discs = [d for _, d in matching]
    assert len(set(gens)) == len(gens) and len(set(discs)) == len(discs), matching
    assert all(0 <= g < n for g in gens) and all(0 <= d < m for d in discs), matching
    assert matching, "a matching holds at least one match"


@pytest.mark.parametrize("kind", schedules.ids())
@pytest.mark.parametrize("n,m", SIZES)
def test_every_schedule_yields_valid_matchings(kind, n, m):
    if kind == "grid" and n != m:
        with pytest.raises(ConfigError, match="as many generators as discriminators"):
            make_schedule(kind, n, m)
        return
    schedule = make_schedule(kind, n, m, seed=3)
    ranking = (list(range(n))[::-1], list(range(m))[::-1])
    for k in range(40):
        assert_valid(schedule.matching(k, ranking), n, m)


@pytest.mark.parametrize("n,m", SIZES)
def test_round_robin_gives_equal_meeting_counts(n, m):
    schedule = RoundRobin(n, m)
    rounds = max(n, m) * 3
    meetings = Counter(pair for k in range(rounds) for pair in schedule.matching(k))
    assert set(meetings) == set(itertools.product(range(n), range(m)))
    assert set(meetings.values()) == {rounds * min(n, m) // (n * m)}


def test_random_schedule_is_seeded_and_varies():
    a, b, c = RandomSchedule(4, 4, seed=1), RandomSchedule(4, 4, seed=1), RandomSchedule(4, 4, seed=2)
    assert [a.matching(k) for k in range(10)] == [b.matching(k) for k in range(10)]
    assert [a.matching(k) for k in range(10)] != [c.matching(k) for k in range(10)]
    assert len({tuple(a.matching(k)) for k in range(10)}) > 1
    meetings = Counter(pair for k in range(400) for pair in a.matching(k))
    assert len(meetings) == 16 and min(meetings.values()) > 400 * 4 / 16 / 2  # every pair meets, roughly evenly


def test_grid_cell_meets_its_four_neighbours_and_itself():
    schedule = GridSchedule(9, 9)
    assert (schedule.rows, schedule.cols) == (3, 3)
    meetings = {g: {d for k in range(5) for gg, d in schedule.matching(k) if gg == g} for g in range(9)}
    # cell 4 is the centre of the 3 x 3 grid; cell 0 wraps around to 2 (west), 6 (north), 1 and 3
    assert meetings[4] == {4, 1, 7, 3, 5}
    assert meetings[0] == {0, 6, 3, 2, 1}
    assert all(len(v) == 5 for v in meetings.values())
    assert schedule.matching(5) == schedule.matching(0)  # the neighbourhood repeats every 5 matchings


def test_grid_drops_duplicate_neighbours_on_a_small_torus():
    assert len(GridSchedule(4, 4).offsets) == 3  # 2 x 2: north == south, west == east
    assert grid_shape(12) == (3, 4) and grid_shape(7) == (1, 7)


def test_all_vs_best_plays_the_best_of_the_other_role():
    schedule = AllVsBest(4, 3)
    ranking = ([2, 0, 3, 1], [1, 2, 0])  # g2 and d1 are the best
    seen_g, seen_d = set(), set()
    for k in range(6):
        matching = schedule.matching(k, ranking)
        assert_valid(matching, 4, 3)
        assert (matching[0][1], matching[1][0]) == (1, 2)
        seen_g.add(matching[0][0])
        seen_d.add(matching[1][1])
    assert seen_g == {0, 3, 1} and seen_d == {2, 0}  # every challenger meets the best


def test_unknown_schedule_names_the_key():
    with pytest.raises(ConfigError, match=re.escape("schedule.type: unknown schedule 'swiss'")):
        make_schedule("swiss", 2, 2)
