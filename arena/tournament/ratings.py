"""Ratings as pure functions of recorded results.

A tournament records one *period* per cross-play: the names of its generators and
discriminators and the N x M payoff matrix, cell ``[i][j]`` being discriminator ``j``'s score
against generator ``i`` in [0, 1] (by default its balanced accuracy); the generator scores
``1 - payoff``. A cell may be ``None`` (a retired agent did not play). Every rating system
here reads that list and nothing else, so ratings can be recomputed from ``results.json`` by
``arena ratings RUN_DIR --system NAME`` and compared between systems.

- :func:`elo`: Elo with fractional scores; within a period all games use the ratings at its start.
- :func:`glicko2`: Glickman's Glicko-2, each period a rating period.
- :func:`bradley_terry`: the maximum-likelihood Bradley-Terry fit of all results at once
  (Hunter's MM algorithm), with standard errors from the Fisher information.

All return ``{name: Rating}`` on the Elo scale (1500 average start, 400 points = 10:1 odds) and
are registered in :data:`rating_systems` (``ratings.system`` in a config).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

from arena.core.registry import Registry

__all__ = ["Rating", "Result", "rating_systems", "results_of", "elo", "glicko2", "glicko2_update", "bradley_terry",
           "compute_ratings"]

ELO_SCALE = 400 / math.log(10)  # Elo points per unit of log-strength
GLICKO_SCALE = 173.7178  # Glicko-2's conversion between the Glicko and Glicko-2 scales


@dataclasses.dataclass
class Rating:
    """One agent's rating, its uncertainty (None where the system has none) and its games."""

    rating: float
    uncertainty: float | None
    games: int

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


Result = tuple[str, str, float]
"""One game's result: ``(player, opponent, player's score in [0, 1])``."""


def results_of(period: dict[str, Any]) -> list[Result]:
    """The results of one recorded period, from the generator's side: ``(g, d, 1 - payoff)``."""
    games = []
    for i, g in enumerate(period["generators"]):
        for j, d in enumerate(period["discriminators"]):
            p = period["payoff"][i][j]
            if p is not None and math.isfinite(p):
                games.append((g, d, 1.0 - float(p)))
    return games


def _players(periods: Sequence[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for period in periods:
        names.update(dict.fromkeys([*period["generators"], *period["discriminators"]]))
    return list(names)


def _count(games: Iterable[Result], counts: dict[str, int]) -> None:
    for a, b, _ in games:
        counts[a] += 1
        counts[b] += 1


def elo(periods: Sequence[dict[str, Any]], k: float = 32.0, initial: float = 1500.0) -> dict[str, Rating]:
    """Elo ratings after every period; a game moves both players by ``k * (score - expected)``."""
    ratings = dict.fromkeys(_players(periods), initial)
    counts = dict.fromkeys(ratings, 0)
    for period in periods:
        games = results_of(period)
        delta = dict.fromkeys(ratings, 0.0)
        for a, b, s in games:
            expected = 1.0 / (1.0 + 10 ** ((ratings[b] - ratings[a]) / 400))
            delta[a] += k * (s - expected)
            delta[b] -= k * (s - expected)
        for name in ratings:
            ratings[name] += delta[name]
        _count(games, counts)
    return {name: Rating(r, None, counts[name]) for name, r in ratings.items()}


def _glicko_g(phi: float) -> float:
    return 1.0 / math.sqrt(1.0 + 3.0 * phi * phi / math.pi**2)


def glicko2_update(
    rating: float, rd: float, vol: float, opponents: Sequence[tuple[float, float, float]], tau: float = 0.5
) -> tuple[float, float, float]:
    """One Glicko-2 rating period for one player (Glickman, "Example of the Glicko-2 system").

    Args:
        rating, rd, vol: the player's rating, rating deviation and volatility.
        opponents: ``(opponent rating, opponent RD, score)`` for each game of the period.
        tau: the system constant that limits how fast volatility changes.

    Returns:
        the new ``(rating, rd, vol)``.
    """
    mu, phi = (rating - 1500.0) / GLICKO_SCALE, rd / GLICKO_SCALE
    if not opponents:
        return rating, math.sqrt(phi * phi + vol * vol) * GLICKO_SCALE, vol
    v_inv, total = 0.0, 0.0
    for r_j, rd_j, s in opponents:
        g = _glicko_g(rd_j / GLICKO_SCALE)
        e = 1.0 / (1.0 + math.exp(-g * (mu - (r_j - 1500.0) / GLICKO_SCALE)))
        v_inv += g * g * e * (1 - e)
        total += g * (s - e)
    v = 1.0 / v_inv
    delta = v * total
    # Step 5: the new volatility, by the Illinois algorithm.
    a = math.log(vol * vol)

    def f(x: float) -> float:
        ex = math.exp(x)
        return ex * (delta**2 - phi**2 - v - ex) / (2 * (phi**2 + v + ex) ** 2) - (x - a) / tau**2

    big_a = a
    if delta**2 > phi**2 + v:
        big_b = math.log(delta**2 - phi**2 - v)
    else:
        k = 1
        while f(a - k * tau) < 0:
            k += 1
        big_b = a - k * tau
    f_a, f_b = f(big_a), f(big_b)
    while abs(big_b - big_a) > 1e-6:
        big_c = big_a + (big_a - big_b) * f_a / (f_b - f_a)
        f_c = f(big_c)
        if f_c * f_b <= 0:
            big_a, f_a = big_b, f_b
        else:
            f_a /= 2
        big_b, f_b = big_c, f_c
    new_vol = math.exp(big_a / 2)
    phi_star = math.sqrt(phi * phi + new_vol * new_vol)
    new_phi = 1.0 / math.sqrt(1.0 / phi_star**2 + 1.0 / v)
    new_mu = mu + new_phi**2 * total
    return 1500.0 + GLICKO_SCALE * new_mu, GLICKO_SCALE * new_phi, new_vol


def glicko2(
    periods: Sequence[dict[str, Any]], rd: float = 350.0, vol: float = 0.06, tau: float = 0.5
) -> dict[str, Rating]:
    """Glicko-2 ratings: each recorded period is one rating period; uncertainty is the RD."""
    state = {name: (1500.0, rd, vol) for name in _players(periods)}
    counts = dict.fromkeys(state, 0)
    for period in periods:
        games = results_of(period)
        opponents: dict[str, list[tuple[float, float, float]]] = {name: [] for name in state}
        for a, b, s in games:
            opponents[a].append((state[b][0], state[b][1], s))
            opponents[b].append((state[a][0], state[a][1], 1.0 - s))
        state = {name: glicko2_update(*state[name], opponents[name], tau) for name in state}
        _count(games, counts)
    return {name: Rating(r, d, counts[name]) for name, (r, d, _) in state.items()}


def bradley_terry(
    periods: Sequence[dict[str, Any]], prior: float = 0.0, iterations: int = 10_000, tol: float = 1e-10
) -> dict[str, Rating]:
    """The maximum-likelihood Bradley-Terry fit of every recorded game: ``P(a beats b) =
    γ_a / (γ_a + γ_b)``, fractional scores counting as fractional wins.

    Args:
        prior: virtual games, each a draw, that every player plays against a fixed player of
            rating 1500; they keep the fit finite for a player that won or lost everything.
            With 0 the ratings average 1500.
        iterations, tol: limits of the MM iterations.

    Returns:
        ratings ``1500 + 400 log10 γ`` with standard errors from the Fisher information.
    """
    names = _players(periods)
    index = {name: i for i, name in enumerate(names)}
    n = len(names)
    games_between = [[0.0] * n for _ in range(n)]
    wins = [prior / 2] * n
    counts = dict.fromkeys(names, 0)
    for period in periods:
        games = results_of(period)
        for a, b, s in games:
            ia, ib = index[a], index[b]
            games_between[ia][ib] += 1
            games_between[ib][ia] += 1
            wins[ia] += s
            wins[ib] += 1 - s
        _count(games, counts)
    gamma = [1.0] * n
    for _ in range(iterations):
        new = []
        for i in range(n):
            denom = sum(games_between[i][j] / (gamma[i] + gamma[j]) for j in range(n) if j != i)
            denom += prior / (gamma[i] + 1.0)
            new.append(max(wins[i], 1e-300) / denom if denom > 0 else gamma[i])
        if prior == 0:
            mean_log = sum(math.log(x) for x in new) / n
            new = [x / math.exp(mean_log) for x in new]
        change = max(abs(math.log(x) - math.log(y)) for x, y in zip(new, gamma))
        gamma = new
        if change < tol:
            break
    se = _bt_standard_errors(gamma, games_between, prior)
    return {
        name: Rating(1500.0 + ELO_SCALE * math.log(gamma[i]), se[i], counts[name]) for i, name in enumerate(names)
    }


def _bt_standard_errors(gamma: list[float], games_between: list[list[float]], prior: float) -> list[float | None]:
    """Standard errors of ``ELO_SCALE * log γ`` from the inverse Fisher information (with no prior,
    the sum-zero gauge is fixed by inverting the information plus the all-ones direction)."""
    import numpy as np

    n = len(gamma)
    info = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j and games_between[i][j]:
                p = gamma[i] / (gamma[i] + gamma[j])
                w = games_between[i][j] * p * (1 - p)
                info[i, j] -= w
                info[i, i] += w
        if prior:
            p = gamma[i] / (gamma[i] + 1.0)
            info[i, i] += prior * p * (1 - p)
    if not prior:
        ones = np.ones((n, n)) / n
        try:
            cov = np.linalg.inv(info + ones) - ones
        except np.linalg.LinAlgError:
            return [None] * n
    else:
        try:
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            return [None] * n
    return [float(ELO_SCALE * math.sqrt(max(cov[i, i], 0.0))) if info[i, i] > 0 else None for i in range(n)]


def _bradley_terry_with_prior(periods: Sequence[dict[str, Any]]) -> dict[str, Rating]:
    return bradley_terry(periods, prior=1.0)


rating_systems: Registry = Registry("rating system")
"""Every rating system: ``ratings.system`` in a config names one; each maps the recorded periods
to ``{name: Rating}``."""
rating_systems.register("elo", elo, "Elo (k = 32) with fractional scores, one update per review")
rating_systems.register("glicko2", glicko2, "Glicko-2 (Glickman), one rating period per review; uncertainty is the RD")
rating_systems.register("bradley-terry", _bradley_terry_with_prior,
                        "maximum-likelihood Bradley-Terry fit of all results (one virtual draw per player)")


def compute_ratings(system: str, periods: Sequence[dict[str, Any]]) -> dict[str, Rating]:
    """Ratings of every player in ``periods`` under the rating system registered as ``system``."""
    return rating_systems.factory(system)(periods)
