"""Time the Parzen-window estimate at the paper's scale: 10,000 samples against 10,000 test
images in 784-D, sigma chosen from logspace(-1, 0, 10) on 1,000 validation images.

    python benchmarks/parzen.py            # random [0, 1] data of MNIST's shape; prints a table
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arena.evaluation.parzen import parzen_estimate


def main() -> None:
    g = torch.Generator().manual_seed(0)
    samples = torch.rand(10_000, 784, generator=g)
    valid = torch.rand(1_000, 784, generator=g)
    test = torch.rand(10_000, 784, generator=g)
    t0 = time.perf_counter()
    result = parzen_estimate(samples, valid, test)
    seconds = time.perf_counter() - t0
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'samples':>8} {'valid':>6} {'test':>6} {'dim':>4} {'sigmas':>6} {'seconds':>8}  result")
    print(f"{10_000:>8} {1_000:>6} {10_000:>6} {784:>4} {10:>6} {seconds:>8.1f}  {result}")


if __name__ == "__main__":
    main()
