"""arena/output/qp.py: the simplex quadratic program of the held-out weights, on programs whose
minimum is known in closed form, and its independence from the machine's BLAS."""

from __future__ import annotations

import subprocess
import sys

import pytest

from arena.output.qp import simplex_qp
from benchmarks.children import child_env

# (K, k, the minimiser of w^T K w - 2 k^T w on the simplex)
KNOWN = [
    ([[1.0, 0.0], [0.0, 1.0]], [0.5, 0.5], [0.5, 0.5]),  # interior, symmetric
    ([[1.0, 0.0], [0.0, 1.0]], [0.9, 0.1], [0.9, 0.1]),  # interior: w = k where k sums to 1
    ([[1.0, 0.0], [0.0, 1.0]], [2.0, 0.0], [1.0, 0.0]),  # a vertex
    ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [0.7, 0.5, -1.0], [0.6, 0.4, 0.0]),  # an edge
    ([[2.0, 0.0], [0.0, 1.0]], [0.0, 0.0], [1 / 3, 2 / 3]),  # weights inverse to the curvature
    ([[1.0, 1.0], [1.0, 1.0]], [1.0, 1.0], [0.5, 0.5]),  # two identical components share alike
]


@pytest.mark.parametrize("big_k, small_k, expected", KNOWN)
def test_the_minimum_of_programs_known_in_closed_form(big_k, small_k, expected):
    w = simplex_qp(big_k, small_k)
    assert w == pytest.approx(expected, abs=1e-9)
    assert sum(w) == pytest.approx(1.0, abs=1e-15) and min(w) >= 0.0


def test_no_point_of_the_simplex_does_better_on_a_random_program():
    import random

    rng = random.Random(0)
    n = 6
    a = [[rng.gauss(0, 1) for _ in range(n)] for _ in range(n)]
    big_k = [[sum(a[i][t] * a[j][t] for t in range(n)) / n for j in range(n)] for i in range(n)]
    small_k = [rng.uniform(-0.5, 1.0) for _ in range(n)]

    def f(w):
        return sum(w[i] * big_k[i][j] * w[j] for i in range(n) for j in range(n)) - 2 * sum(x * y for x, y in zip(w, small_k))

    best = f(simplex_qp(big_k, small_k))
    for _ in range(2000):
        v = [rng.random() ** 3 for _ in range(n)]
        assert f([x / sum(v) for x in v]) >= best - 1e-12


def test_the_weights_do_not_depend_on_the_blas_kernels_the_processor_picks():
    """OpenBLAS picks its kernels by the processor; OPENBLAS_CORETYPE forces another processor's.
    scipy's SLSQP, which fitted these weights before, moved in the 15th digit between core types
    (two AMD EPYC machines failed the golden runs that way)."""
    code = ("import torch; from arena.output.mixture import _kernel_means, mmd_weights; g = torch.Generator().manual_seed(0); "
            "xs = [torch.randn(300, 2, generator=g) * s for s in (1.0, 0.5, 2.0)]; "
            "print(repr(mmd_weights(*_kernel_means(xs, torch.randn(300, 2, generator=g)))))")
    outputs = set()
    for core in ("Haswell", "Zen"):
        env = child_env(OPENBLAS_CORETYPE=core)
        outputs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)
    assert len(outputs) == 1, outputs
