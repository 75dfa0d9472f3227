"""Ratings as pure functions, against hand-computed values and Glickman's worked example."""

from __future__ import annotations

import math
import re

import pytest

from arena.core.errors import ConfigError
from arena.tournament.ratings import bradley_terry, compute_ratings, elo, glicko2, glicko2_update, rating_systems, results_of


def period(payoff, generators=("g",), discriminators=("d",)):
    return {"generators": list(generators), "discriminators": list(discriminators), "payoff": payoff}


def test_glicko2_matches_glickmans_worked_example():
    """Glickman, "Example of the Glicko-2 system": 1500/200/0.06 against 1400/30 (won),
    1550/100 (lost) and 1700/300 (lost), tau 0.5 -> 1464.06 / 151.52 / 0.05999."""
    rating, rd, vol = glicko2_update(1500, 200, 0.06, [(1400, 30, 1), (1550, 100, 0), (1700, 300, 0)], tau=0.5)
    assert rating == pytest.approx(1464.06, abs=0.01)
    assert rd == pytest.approx(151.52, abs=0.01)
    assert vol == pytest.approx(0.05999, abs=1e-5)


def test_glicko2_idle_player_gains_uncertainty_only():
    rating, rd, vol = glicko2_update(1600, 50, 0.06, [])
    assert rating == 1600 and vol == 0.06
    assert rd == pytest.approx(math.sqrt(50**2 + (0.06 * 173.7178) ** 2))


def test_glicko2_over_recorded_periods():
    ratings = glicko2([period([[0.0]])])  # the discriminator never told real from fake: the generator won
    g, d = ratings["g"], ratings["d"]
    # by hand: both start 1500/350; g(phi) = 0.6690, E = 0.5, v = 1 / (g^2 E (1-E)) -> mu' = phi'^2 g (1 - E)
    assert g.rating > 1500 > d.rating and g.rating - 1500 == pytest.approx(1500 - d.rating)
    assert g.rating == pytest.approx(1662.31, abs=0.05)
    assert g.uncertainty == pytest.approx(290.32, abs=0.05) and g.games == 1


def test_elo_hand_values():
    # one game, equal ratings, generator scores 1 - 0.25 = 0.75: 1500 + 32 * (0.75 - 0.5) = 1508
    ratings = elo([period([[0.25]])])
    assert ratings["g"].rating == pytest.approx(1508.0) and ratings["d"].rating == pytest.approx(1492.0)
    # second period: expected score of g = 1 / (1 + 10^(-16/400)) = 0.5230095; g scores 0 -> -16.7363
    ratings = elo([period([[0.25]]), period([[1.0]])])
    assert ratings["g"].rating == pytest.approx(1508.0 - 32 * 0.5230095, abs=1e-4)
    assert ratings["g"].uncertainty is None and ratings["g"].games == 2


def test_bradley_terry_two_players():
    # g scores 0.75 in each of 4 games: gamma_g / gamma_d = 3, i.e. 400 log10 3 = 190.85 points apart
    ratings = bradley_terry([period([[0.25]])] * 4)
    assert ratings["g"].rating - ratings["d"].rating == pytest.approx(400 * math.log10(3))
    assert ratings["g"].rating + ratings["d"].rating == pytest.approx(3000)
    # Fisher information of the difference: 4 * 0.75 * 0.25 = 0.75; each half: se = sqrt(1 / (4 * 0.75)) log-units
    assert ratings["g"].uncertainty == pytest.approx(400 / math.log(10) * math.sqrt(1 / 3))


def test_bradley_terry_three_players_by_hand():
    """g beats d0 with score 2/3 and d1 with 1/3 in every period: gamma_d1 / gamma_g = 2 = gamma_g / gamma_d0."""
    periods = [period([[1 / 3, 2 / 3]], ("g",), ("d0", "d1"))] * 6
    ratings = bradley_terry(periods)
    step = 400 * math.log10(2)
    assert ratings["g"].rating == pytest.approx(1500, abs=1e-6)
    assert ratings["d0"].rating == pytest.approx(1500 - step, abs=1e-6)
    assert ratings["d1"].rating == pytest.approx(1500 + step, abs=1e-6)


def test_bradley_terry_prior_keeps_a_perfect_record_finite():
    ratings = bradley_terry([period([[0.0]])], prior=1.0)
    assert math.isfinite(ratings["g"].rating) and ratings["g"].rating > ratings["d"].rating


def test_retired_cells_are_not_games():
    p = period([[0.5, None]], ("g",), ("d0", "d1"))
    assert results_of(p) == [("g", "d0", 0.5)]
    assert compute_ratings("elo", [p])["d1"].games == 0


def test_unknown_rating_system():
    with pytest.raises(ConfigError, match=re.escape("unknown rating system 'glicko'; did you mean 'glicko2'? (known: bradley-terry, elo, glicko2)")):
        compute_ratings("glicko", [])
    assert rating_systems.ids() == ["bradley-terry", "elo", "glicko2"]
