"""A small quadratic program on the probability simplex, solved in plain Python floats.

The mixture's held-out weights minimise ``w^T K w - 2 k^T w`` over the simplex. A library solver
(scipy's SLSQP) calls BLAS, whose kernels OpenBLAS picks by the processor: two machines of the
same kind (two AMD EPYC generations, say) then fit weights that differ in the 15th digit, and
everything downstream of them is no longer reproducible bit for bit. The programs here have one
variable per mixture component (a handful to a few dozen), so an exact active-set method in
Python floats costs microseconds and gives the same bits on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["simplex_qp"]


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """``a x = b`` by Gaussian elimination with partial pivoting (``a`` square, nonsingular)."""
    n = len(b)
    m = [row[:] + [rhs] for row, rhs in zip(a, b)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        p = m[col][col]
        if p == 0.0:
            raise ZeroDivisionError("singular system")
        for r in range(col + 1, n):
            f = m[r][col] / p
            if f != 0.0:
                row, top = m[r], m[col]
                for c in range(col, n + 1):
                    row[c] -= f * top[c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        s = m[r][n]
        for c in range(r + 1, n):
            s -= m[r][c] * x[c]
        x[r] = s / m[r][r]
    return x


def simplex_qp(big_k: Sequence[Sequence[float]], small_k: Sequence[float], tol: float = 1e-13,
               max_iterations: int | None = None) -> list[float]:
    """The weights ``w >= 0``, ``sum w = 1`` minimising ``w^T K w - 2 k^T w`` (``K`` positive
    semi-definite), by a primal active-set method from the uniform weights.

    Each step solves the equality-constrained problem on the components not held at zero (with a
    ridge of ``1e-12`` of ``K``'s largest diagonal entry, so that identical components leave the
    system solvable), moves as far toward its solution as the bounds allow, and either holds the
    component that reached zero or, at a minimum of the current face, frees the component whose
    Lagrange multiplier is most negative. Deterministic: the same bits on every machine.
    """
    n = len(small_k)
    if n == 0:
        return []
    if n == 1:
        return [1.0]
    ridge = 1e-12 * max(max(abs(float(big_k[i][i])) for i in range(n)), 1e-300)
    h = [[2.0 * float(big_k[i][j]) + (2.0 * ridge if i == j else 0.0) for j in range(n)] for i in range(n)]
    c = [-2.0 * float(x) for x in small_k]
    w = [1.0 / n] * n
    held: set[int] = set()
    scale = max(max(abs(v) for row in h for v in row), max(abs(v) for v in c), 1e-300)
    for _ in range(max_iterations or 50 * n + 100):
        grad = [sum(h[i][j] * w[j] for j in range(n)) + c[i] for i in range(n)]
        free = [i for i in range(n) if i not in held]
        size = len(free)
        # [H_FF 1; 1^T 0] [p_F; nu] = [-grad_F; 0]
        a = [[h[i][j] for j in free] + [1.0] for i in free] + [[1.0] * size + [0.0]]
        step = _solve(a, [-grad[i] for i in free] + [0.0])
        p, nu = step[:size], step[size]
        if max(abs(x) for x in p) <= tol:
            # a minimum on this face: every held component must not want to grow
            multipliers = {i: grad[i] + nu for i in held}
            worst = min(multipliers, key=lambda i: (multipliers[i], i), default=None)
            if worst is None or multipliers[worst] >= -tol * scale:
                break
            held.discard(worst)
            continue
        alpha, blocking = 1.0, None
        for i, pi in zip(free, p):
            if pi < 0.0 and -w[i] / pi < alpha:
                alpha, blocking = -w[i] / pi, i
        for i, pi in zip(free, p):
            w[i] += alpha * pi
        if blocking is not None:
            w[blocking] = 0.0
            held.add(blocking)
    w = [max(x, 0.0) for x in w]
    total = sum(w)
    return [x / total for x in w]
