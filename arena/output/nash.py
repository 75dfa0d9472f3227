"""The Nash equilibrium of the meta-game a payoff matrix defines (the meta-solver of PSRO,
Lanctot et al. 2017; "Nash averaging", Balduzzi et al. 2018).

Cross-play gives ``P[i][j]``: discriminator ``j``'s score against generator ``i`` in [0, 1]. Read
as a zero-sum game, the generators choose a mixture ``w`` to make the best discriminator's score
``max_j (w^T P)_j`` as small as possible; the discriminators choose ``q`` to make
``min_i (P q)_i`` as large as possible. Both are small linear programs (solved exactly with
scipy's HiGHS). Where the game has several equilibria, the one of maximum entropy is chosen,
as Nash averaging asks: it spreads weight over every generator that is as good as any other
and is unique.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["solve_zero_sum", "max_entropy_nash"]


def solve_zero_sum(payoff: Sequence[Sequence[float]] | np.ndarray) -> tuple[np.ndarray, float]:
    """An equilibrium mixture of the row player, who minimises ``w^T P q``, and the game's value.

    Args:
        payoff: ``(n, m)``, the column player's gain (the row player's loss).
    """
    from scipy.optimize import linprog

    p = np.asarray(payoff, dtype=float)
    n, m = p.shape
    # variables (w_1..w_n, v): minimise v  s.t.  P^T w - v <= 0,  sum w = 1,  w >= 0
    c = np.zeros(n + 1)
    c[-1] = 1.0
    a_ub = np.hstack([p.T, -np.ones((m, 1))])
    a_eq = np.hstack([np.ones((1, n)), np.zeros((1, 1))])
    result = linprog(c, A_ub=a_ub, b_ub=np.zeros(m), A_eq=a_eq, b_eq=[1.0],
                     bounds=[(0, None)] * n + [(None, None)], method="highs")
    if not result.success:  # pragma: no cover - a bounded, feasible LP
        raise RuntimeError(f"the meta-game's linear program failed: {result.message}")
    w = np.clip(result.x[:n], 0, None)
    return w / w.sum(), float(result.x[-1])


def max_entropy_nash(payoff: Sequence[Sequence[float]], tol: float = 1e-7) -> tuple[np.ndarray, float]:
    """The row player's maximum-entropy equilibrium mixture and the game's value: of all mixtures
    that hold the best column's gain to the value, the most spread one."""
    from scipy.optimize import minimize

    p = np.asarray(payoff, dtype=float)
    w0, value = solve_zero_sum(p)
    n = p.shape[0]
    if n == 1:
        return np.ones(1), value

    def neg_entropy(w: np.ndarray) -> float:
        w = np.clip(w, 1e-12, None)
        return float(np.sum(w * np.log(w)))

    def grad(w: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.log(np.clip(w, 1e-12, None)) + 1.0
        return out

    constraints = [{"type": "eq", "fun": lambda w: np.sum(w) - 1.0, "jac": lambda w: np.ones(n)},
                   {"type": "ineq", "fun": lambda w: value + tol - p.T @ w, "jac": lambda w: -p.T}]
    start = 0.98 * w0 + 0.02 / n  # feasible up to the tolerance, and off the boundary
    if np.max(p.T @ start) > value + tol:
        start = w0
    result = minimize(neg_entropy, start, jac=grad, bounds=[(0.0, 1.0)] * n, constraints=constraints, method="SLSQP",
                      options={"ftol": 1e-12, "maxiter": 500})
    w = np.clip(result.x, 0, None) if result.success else w0
    if np.max(p.T @ w) > value + 10 * tol or not math.isclose(float(w.sum()), 1.0, abs_tol=1e-6):
        w = w0  # the refinement left the equilibrium: keep the exact LP solution
    w = np.where(w < 1e-9, 0.0, w)
    return w / w.sum(), value
