"""Throughput of the arena, as ratios measured side by side in one process.

Prints one table:

- a) one pair: the arena's round loop (configs/pytorch_gan.yaml) against a plain hand-written
  PyTorch loop of the same model and optimizer, at batch 64 and 256 (target ratio >= 1.0); on a
  GPU also with the arena's compute options (compile, CUDA graphs, bf16) against the same eager
  plain loop (target >= 1.0 with compile or CUDA graphs);
- b) an 8 G x 8 D round-robin of small MLPs on ring8 at batch 64: batched matchings against
  the same matches one by one, in pair-rounds per second (target >= 3x on 2 CPU cores,
  >= 20x on a GPU); on a GPU also batched with the compute options against eager one by one;
- c) efficiency: the FLOP/s achieved by the batch-256 round of a), as a fraction of a large
  matrix product's FLOP/s on the same device (target >= 0.8);
- d) an 8 x 8 cross-evaluation at 2,500 samples (stacked discriminators) against a loop over
  the discriminators, in seconds (target < 1 s on 2 CPU cores);
- e) where stacking pays on this device: a 4 x 4 round-robin batched against one by one for
  networks from 64 x 64 MLPs to 1024 x 1024 (and the shipped tournaments' agents), labelled with
  the parameters x batch size that ``compute.execution: auto`` weighs on a CPU;
- f) the operations the 8 x 8 round-robin of b) dispatches per pair-round outside compiled
  graphs, one by one, batched, and batched with ``compute.compile`` (the fused round): on a GPU,
  where these sizes are bound by kernel launches, each non-view operation is a launch, so this
  count, measured on any device, says what b)'s GPU ratio can reach (views cost host time only);
- g) what compiling pays, for one pair and for an 8 x 8 round-robin of b)'s agents: the fused
  round (``compute.compile``, matches stacked) and the compiled networks played one by one,
  each against eager one by one;
- h) images: PacGAN's Stacked MNIST pair (configs/stacked_mnist.yaml: a 288k-parameter DCGAN
  generator against a 2-4-8 convolutional discriminator, BatchNorm in both, batch 64) played by
  the arena against a plain hand-written PyTorch loop of the same model, optimizers and fresh
  stacked batches (target >= 1.0); and a 4 x 4 round-robin of these agents batched against one by
  one;
- i) images, one generator against K discriminators at once (configs/stacked_mnist_gman.yaml,
  GMAN): the K discriminators stacked (``compute.execution: auto``) against one by one, for K = 4
  (the shipped config) and 8, in rounds (generator steps) per second;
- the peak memory of each (on a GPU: torch.cuda.max_memory_allocated above what the case holds
  before it runs; on a CPU: the peak resident set while it runs above the resident set before,
  from /proc/self/status after resetting the peak; each case in a fresh process).

Each pair of timings is interleaved (ours, theirs, ours, ...) over several repeats and the
median taken, so the ratio holds on a shared, noisy machine.

    python benchmarks/throughput.py                 # everything, device auto
    python benchmarks/throughput.py --only b --repeats 7
    python benchmarks/throughput.py --device cuda --no-memory
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arena.engine.execution import CPU_STACKING_LIMIT, stacking_size
from arena.engine.placement import resolve_device
from benchmarks.throughput_cases import (
    CASES,
    DEFAULTS,
    STACKING_SIZES,
    crossplay_case,
    dispatched,
    pair_case,
    playing,
    round_robin,
    shown,
    stacked_case,
    team_case,
    tournament_case,
)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rate(fn: Callable[[int], None], n: int, device: torch.device) -> float:
    """Calls per second of ``fn(n)``, n at a time."""
    sync(device)
    t0 = time.perf_counter()
    fn(n)
    sync(device)
    return n / (time.perf_counter() - t0)


def side_by_side(a: Callable, b: Callable, n: int, repeats: int, device: torch.device) -> tuple[float, float]:
    a(max(1, n // 5))  # warm-up
    b(max(1, n // 5))
    ra, rb = [], []
    for _ in range(repeats):
        ra.append(rate(a, n, device))
        rb.append(rate(b, n, device))
    return statistics.median(ra), statistics.median(rb)


def round_flops(fn: Callable[[int], None]) -> int:
    """FLOPs of one call of ``fn(1)`` (matrix products and convolutions, forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn(1)
    return counter.get_total_flops()


def matmul_rate(device: torch.device, n: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of a large fp32 matrix product on ``device`` (the best of ``repeats``)."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    best = 0.0
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = max(best, 2 * n**3 / (time.perf_counter() - t0))
    return best



# ----------------------------------------------------------------------------- memory
def measure_memory(case: str, device: str, batch: int) -> float:
    """Peak memory of a case in MiB: GPU bytes allocated, or the growth of the CPU process's peak
    resident set while it runs (this function runs in a fresh process for that)."""
    fn = CASES[case](device, batch)
    dev = resolve_device(device)
    if dev.type == "cuda":
        fn(1)  # warm-up, as below
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        fn(3)
        torch.cuda.synchronize(dev)
        return (torch.cuda.max_memory_allocated(dev) - base) / 2**20
    fn(1)  # warm-up: lazily allocated buffers and optimizer state count as setup
    gc.collect()
    if not _reset_peak_rss():  # no /proc: the peak of the whole process
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    before = _proc_status("VmRSS")
    fn(3)
    return (_proc_status("VmHWM") - before) / 1024


def _reset_peak_rss() -> bool:
    """Reset the kernel's record of this process's peak resident set (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _proc_status(key: str) -> int:
    """A kB figure from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def memory(case: str, device: str, batch: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--memory-case", case, "--device", device, "--batch", str(batch)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["mib"]


# ----------------------------------------------------------------------------- the table
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--only", choices=["a", "b", "c", "d", "e", "f", "g", "h", "i"], action="append", help="only these rows (repeatable)")
    p.add_argument("--rounds", type=int, default=100, help="rounds per timing in a) and c)")
    p.add_argument("--matchings", type=int, default=3, help="matchings (8 matches x 20 rounds) per timing in b)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory columns")
    p.add_argument("--compute", action="append", default=None,
                   help="extra rows with these compute overrides, e.g. 'compute.compile=true' (repeatable; "
                        f"default: '{DEFAULTS}' (the path a config that sets nothing gets), and on a GPU also "
                        "compile, CUDA graphs and bf16); every other row is eager")
    p.add_argument("--memory-case", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=64, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_case:
        print(json.dumps({"mib": measure_memory(args.memory_case, args.device, args.batch)}))
        return
    only = set(args.only or "abcdefghi")
    mem = (lambda case, batch: f"{memory(case, args.device, batch):.0f}") if not args.no_memory else (lambda *a: "-")
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats} interleaved repeats; memory: peak MiB above setup, each case in a fresh process")
    head = ("measurement", "case", "ours", "baseline", "ratio", "target", "mem ours", "mem base")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))

    def row(r: tuple) -> None:  # printed as soon as measured: a run cut short keeps what it measured
        print("| " + " | ".join([*r[:4], f"{r[4]:.2f}", *r[5:]]) + " |", flush=True)

    default_rows = [DEFAULTS, *(["compute.compile=true", "compute.cuda_graphs=true", "compute.precision=bf16"] if gpu else [])]
    compute_rows = default_rows if args.compute is None else args.compute
    arena_256 = None
    if "a" in only or "c" in only:
        for batch in (64, 256):
            ours, dev = pair_case(batch, args.device, "arena")
            if batch == 256:
                arena_256 = ours
            if "a" not in only:
                continue
            plain, _ = pair_case(batch, args.device, "plain")
            ra, rb = side_by_side(ours, plain, args.rounds, args.repeats, dev)
            row(("a) pair: arena / plain loop", f"pytorch_gan, batch {batch}", f"{ra:.1f} rounds/s",
                 f"{rb:.1f} rounds/s", ra / rb, ">= 1.0", mem("pair-arena", batch), mem("pair-plain", batch)))
            for options in compute_rows:
                fast, _ = pair_case(batch, args.device, "arena", options)
                ra, rb = side_by_side(fast, plain, args.rounds, args.repeats, dev)
                row((f"a) pair: arena ({shown(options)}) / plain loop", f"pytorch_gan, batch {batch}",
                     f"{ra:.1f} rounds/s", f"{rb:.1f} rounds/s", ra / rb, ">= 1.0", "-", "-"))
    if "b" in only:
        batched, dev, per = tournament_case("batched", args.device)
        one, _, _ = tournament_case("one-by-one", args.device)
        ra, rb = side_by_side(batched, one, args.matchings, args.repeats, dev)
        row(("b) 8x8 round-robin: batched / one-by-one", "ring8, MLP 64x64, batch 64",
             f"{ra * per:.0f} pair-rounds/s", f"{rb * per:.0f} pair-rounds/s", ra / rb,
             ">= 20" if gpu else ">= 3", mem("tournament-batched", 64), mem("tournament-one-by-one", 64)))
        for options in compute_rows:
            fast, _, _ = tournament_case("batched", args.device, compute=options)
            ra, rb = side_by_side(fast, one, args.matchings, args.repeats, dev)
            row((f"b) 8x8 round-robin: batched ({shown(options)}) / one-by-one", "ring8, MLP 64x64, batch 64",
                 f"{ra * per:.0f} pair-rounds/s", f"{rb * per:.0f} pair-rounds/s", ra / rb,
                 ">= 20" if gpu else ">= 3", "-", "-"))
    if "c" in only:
        assert arena_256 is not None
        flops = round_flops(arena_256)
        arena_256(5)
        rounds = statistics.median(rate(arena_256, args.rounds, device) for _ in range(args.repeats))
        peak = matmul_rate(device)
        row(("c) efficiency: round / matmul FLOP/s", "pytorch_gan, batch 256",
             f"{flops * rounds / 1e9:.1f} GFLOP/s", f"{peak / 1e9:.1f} GFLOP/s", flops * rounds / peak, ">= 0.8",
             "-", "-"))
    if "e" in only:
        steps = 20
        for label, g_net, d_net, batch in STACKING_SIZES:
            batched, one = (round_robin(mode, args.device, steps, count=4, g_net=g_net, d_net=d_net, batch=batch)
                            for mode in ("batched", "one-by-one"))
            ra, rb = side_by_side(playing(batched, steps), playing(one, steps), args.matchings, args.repeats,
                                  one.arena.device)
            per = len(one.arena.generators) * steps
            size = stacking_size((*one.arena.generators, *one.arena.discriminators), batch)
            stacks = gpu or size <= CPU_STACKING_LIMIT  # what auto does with it here
            row(("e) 4x4 stacking by size: batched / one-by-one", f"{label}, batch {batch}: {size / 1e6:.1f} M",
                 f"{ra * per:.0f} pair-rounds/s", f"{rb * per:.0f} pair-rounds/s", ra / rb,
                 "auto stacks it" if stacks else "auto: one by one", "-", "-"))
    if "f" in only:
        cases = [("one-by-one", ""), ("batched", ""), ("batched", "compute.compile=true")]
        counts = {}
        for mode, options in cases:
            fn, _, per = tournament_case(mode, args.device, compute=options)
            counts[(mode, options)] = dispatched(fn, per)
        base = counts[("one-by-one", "")][0]
        for (mode, options), (kernels, views) in counts.items():
            label = f"{mode} ({options})" if options else mode
            row((f"f) operations per pair-round outside compiled graphs: {label} / one by one",
                 "ring8, MLP 64x64, batch 64, 8x8", f"{kernels:.1f} launching (+ {views:.1f} views)",
                 f"{base:.1f} launching", base / kernels, "-", "-", "-"))
    if "g" in only:
        for count in (1, 8):
            eager, dev, per = tournament_case("one-by-one", args.device, count=count)
            for mode, label in (("auto", "fused round"), ("one-by-one", "compiled networks, one by one")):
                fast, _, _ = tournament_case(mode, args.device, compute="compute.compile=true", count=count)
                ra, rb = side_by_side(fast, eager, max(args.matchings, 10 // count), args.repeats, dev)
                row((f"g) compute.compile, {label} / eager one by one", f"ring8, MLP 64x64, batch 64, {count}x{count}",
                     f"{ra * per:.0f} pair-rounds/s", f"{rb * per:.0f} pair-rounds/s", ra / rb, "-", "-", "-"))
    if "h" in only:
        ours, dev, per = stacked_case("arena", args.device)
        plain, _, _ = stacked_case("plain", args.device)
        ra, rb = side_by_side(ours, plain, args.matchings, args.repeats, dev)
        row(("h) images: pair: arena / plain loop", "stacked-mnist, PacGAN D = 1/4 G, batch 64",
             f"{ra * per:.1f} rounds/s", f"{rb * per:.1f} rounds/s", ra / rb, ">= 1.0", "-", "-"))
        for options in compute_rows:
            fast, _, _ = stacked_case("arena", args.device, compute=options)
            ra, rb = side_by_side(fast, plain, args.matchings, args.repeats, dev)
            row((f"h) images: pair: arena ({shown(options)}) / plain loop", "stacked-mnist, PacGAN D = 1/4 G, batch 64",
                 f"{ra * per:.1f} rounds/s", f"{rb * per:.1f} rounds/s", ra / rb, ">= 1.0", "-", "-"))
        batched, dev, per = stacked_case("arena", args.device, count=4, mode="batched")
        one, _, _ = stacked_case("arena", args.device, count=4, mode="one-by-one")
        ra, rb = side_by_side(batched, one, args.matchings, args.repeats, dev)
        row(("h) images: 4x4 round-robin: batched / one-by-one", "stacked-mnist, PacGAN D = 1/4 G, batch 64",
             f"{ra * per:.0f} pair-rounds/s", f"{rb * per:.0f} pair-rounds/s", ra / rb, "-", "-", "-"))
        for options in compute_rows:
            fast, _, _ = stacked_case("arena", args.device, count=4, mode="batched", compute=options)
            ra, rb = side_by_side(fast, one, args.matchings, args.repeats, dev)
            row((f"h) images: 4x4 round-robin: batched ({shown(options)}) / one-by-one", "stacked-mnist, PacGAN D = 1/4 G, batch 64",
                 f"{ra * per:.0f} pair-rounds/s", f"{rb * per:.0f} pair-rounds/s", ra / rb, "-", "-", "-"))
    if "i" in only:
        for count in (4, 8):
            team, dev, per = team_case("auto", args.device, count)
            one, _, _ = team_case("one-by-one", args.device, count)
            ra, rb = side_by_side(team, one, args.matchings, args.repeats, dev)
            row((f"i) images: 1 G x {count} D at once (GMAN): stacked / one-by-one", "stacked-mnist, PacGAN D = 1/4 G, batch 64",
                 f"{ra * per:.1f} rounds/s", f"{rb * per:.1f} rounds/s", ra / rb, "-", "-", "-"))
    if "d" in only:
        stacked, looped, dev = crossplay_case(args.device)
        ra, rb = side_by_side(stacked, looped, 1, args.repeats, dev)
        row(("d) 8x8 cross-play, 2,500 samples: stacked / loop", "ring8 tournament agents",
             f"{1 / ra:.2f} s", f"{1 / rb:.2f} s", ra / rb, "< 1 s", "-", "-"))


if __name__ == "__main__":
    main()
