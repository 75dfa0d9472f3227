"""How the cost of a tournament grows with its population: N x N round-robins of small MLP agents.

For N = 2, 4, 8, 16, 32 (and 64 on a GPU), each in a fresh process:

- pair-rounds per second of the matches alone, batched and one by one (the tournament's own
  runner, 20 rounds a match, batch 64);
- the cross-play time of one evaluation at 2,500 samples (N generators x N discriminators);
- a whole run as a user runs it (20 matchings of 100 rounds a match, an evaluation, a selection
  and a checkpoint every 10, pictures and the report on), timed part by part: the matches, the
  evaluation's sampling and metrics, cross-play, ratings, selection, the mixture, the pictures,
  the standings files, the checkpoints, the report;
- the peak memory above the process's set-up (resident set on a CPU, allocated on a GPU).

It prints the tables, the cost per pair-round relative to N = 2, which part grows fastest (the
slope of its time per matching against N on log-log axes) and where the time goes at the largest
N, and draws the log-log plot into benchmarks/scale.png.

    python benchmarks/scale.py                      # N = 2 ... 32 on this machine's default device
    python benchmarks/scale.py --sizes 2 4 8 --device cpu
    python benchmarks/scale.py --device cuda --sizes 2 4 8 16 32 64
    python benchmarks/scale.py --compiled cuda_graphs  # also the fused round, batched (--compiled compile on a CPU)
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.children import child_env  # noqa: E402

SMALL_MLP = {"type": "mlp", "hidden": [64, 64], "act": "leaky_relu"}
PARTS = ["matches", "sampling & metrics", "cross-play", "ratings", "selection", "mixture", "panel", "pictures", "standings files",
         "checkpoints", "report", "metrics log", "other"]


def config(n: int, device: str, matchings: int, steps: int, mode: str = "auto", every: int = 10,
           compiled: str | None = None) -> dict:
    return {
        "name": f"scale-{n}", "seed": 0, "device": device,
        "data": {"source": "ring8", "train_size": 20000, "test_size": 2500},
        "game": {"id": "gan-v0"},
        "agents": [
            {"name": "g", "role": "generator", "count": n, "latent": {"dist": "normal", "dim": 2}, "net": SMALL_MLP,
             "optim": {"type": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}},
            {"name": "d", "role": "discriminator", "count": n, "net": SMALL_MLP,
             "optim": {"type": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}},
        ],
        "schedule": {"type": "round-robin", "matchings": matchings, "steps_per_match": steps, "batch_size": 64},
        "log": {"every": 1},
        "review": {"every": every, "samples": 2500},
        "selection": {"every": every, "replace": 1},
        "checkpoint": {"every": every},
        "mixture": {"top": 4, "weights": "rating"},
        "compute": {"execution": mode, "compile": False, "cuda_graphs": False, **({compiled: True} if compiled else {})},
    }


# ----------------------------------------------------------------------------- one N, in its own process

class Timers:
    """Wall time of the parts of a run, by wrapping the functions that do them."""

    def __init__(self, device) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.device = device
        self.depth = 0

    def sync(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def wrap(self, owner, attr: str, part: str) -> None:
        original = getattr(owner, attr)
        timers = self

        def timed(*args, **kwargs):
            timers.sync()
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                timers.sync()
                timers.total[part] += time.perf_counter() - start

        setattr(owner, attr, timed)


def measure(n: int, device: str, run_matchings: int = 20, compiled: str | None = None) -> dict:
    import resource

    import torch

    from agents import draw_samples
    from arena.config import parse_config
    from arena.engine.arena import build_arena
    from arena.engine.placement import resolve_device
    from arena.tournament.crossplay import payoff_matrix
    from arena.tournament.loop import Tournament

    dev = resolve_device(device)
    out: dict = {"n": n, "device": str(dev), "torch": torch.__version__, "threads": torch.get_num_threads()}

    def baseline_memory() -> float:
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
            return torch.cuda.max_memory_allocated(dev) / 2**20
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def peak_memory(base: float) -> float:
        if dev.type == "cuda":
            return torch.cuda.max_memory_allocated(dev) / 2**20 - base
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base

    base = baseline_memory()
    # the matches alone, batched and one by one
    steps = 20
    modes = [("batched", None), ("one-by-one", None)] + ([("batched", compiled)] if compiled else [])
    for mode, option in modes:
        t = Tournament(build_arena(parse_config(config(n, device, 10**6, steps, mode, compiled=option))))
        t.runner.play(t.matches_of(0), t.active, steps)  # warm-up (builds the stacked kernels)
        timers = Timers(dev)
        k, played, started = 1, 0, time.perf_counter()
        while time.perf_counter() - started < 3.0 or k < 3:
            timers.sync()
            t.runner.play(t.matches_of(k), t.active, steps)
            played += len(t.matches_of(k)) * steps
            k += 1
        timers.sync()
        out[f"pair_rounds_per_s_{mode}" + (f"_{option}" if option else "")] = played / (time.perf_counter() - started)
    # one evaluation's cross-play at 2,500 samples
    a = t.arena
    samples = {g.name: draw_samples(g, 2500, 0) for g in a.generators}
    real = a.data.test[:2500]
    payoff_matrix(a.generators, a.discriminators, samples, real, a.game_for)  # warm-up
    timers = Timers(dev)
    timers.sync()
    started = time.perf_counter()
    payoff_matrix(a.generators, a.discriminators, samples, real, a.game_for)
    timers.sync()
    out["crossplay_s"] = time.perf_counter() - started
    # a whole run, part by part
    out.update(whole_run(n, device, dev, run_matchings))
    out["peak_mib"] = peak_memory(base)
    return out


def whole_run(n: int, device: str, dev, matchings: int = 20) -> dict:
    """A whole run of ``matchings`` matchings, timed part by part by :class:`arena.tournament.timing.Profile`
    (what ``arena run --profile`` prints)."""
    from arena.api import Run
    from arena.config import parse_config
    from arena.tournament.timing import Profile

    steps = 100
    with tempfile.TemporaryDirectory() as tmp:
        run = Run.create(parse_config(config(n, device, matchings, steps)), Path(tmp) / "run")
        with Profile(dev) as profile:
            run.tournament.timer = profile
            run.play()
        report_mb = (Path(tmp) / "run" / "report.html").stat().st_size / 1e6
    parts = {k: v for k, v in profile.parts().items() if k != "start-up"}
    return {"run_s": profile.total, "run_pair_rounds": matchings * n * steps, "parts": parts, "report_mb": report_mb,
            "matchings": matchings}


# ----------------------------------------------------------------------------- the tables


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log y against log x."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if y > 0]
    if len(pts) < 2:
        return float("nan")
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [r["n"] for r in results]
    fig, ax = plt.subplots(figsize=(6.5, 4.5), dpi=110)
    for key, label in (("pair_rounds_per_s_batched", "matches, batched"), ("pair_rounds_per_s_one-by-one", "matches, one by one")):
        ax.plot(ns, [1e3 / r[key] for r in results], marker="o", label=f"{label} (ms per pair-round)")
    ax.plot(ns, [1e3 * r["run_s"] / r["run_pair_rounds"] for r in results], marker="s", label="whole run (ms per pair-round)")
    ax.plot(ns, [r["crossplay_s"] for r in results], marker="^", label="cross-play, 2,500 samples (s)")
    for part in ("pictures", "report", "checkpoints", "sampling & metrics"):
        ax.plot(ns, [max(r["parts"][part], 1e-4) / r["matchings"] for r in results], ls="--", lw=1,
                label=f"{part} (s per matching)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("N (generators = discriminators)")
    ax.set_title(f"cost as the population grows ({results[0]['device']})", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--plot", default=str(ROOT / "benchmarks" / "scale.png"))
    p.add_argument("--run-matchings", type=int, default=20,
                   help="matchings of 100 rounds in the whole run of each N (evaluations every 10)")
    p.add_argument("--compiled", choices=["compile", "cuda_graphs"],
                   help="also time the matches batched with this compute option (the fused round), beside eager")
    p.add_argument("--from-log", type=Path, help="print the tables of the sizes an earlier run (cut short) logged")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one N and print JSON
    args = p.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one, args.device, args.run_matchings, args.compiled)))
        return
    if args.from_log is not None:
        report(from_log(args.from_log), Path(args.plot))
        return
    import torch

    sizes = args.sizes or ([2, 4, 8, 16, 32, 64] if torch.cuda.is_available() and args.device != "cpu" else [2, 4, 8, 16, 32])
    results = []
    for n in sizes:
        env = child_env()
        done = subprocess.run([sys.executable, __file__, "--one", str(n), "--device", args.device,
                               "--run-matchings", str(args.run_matchings),
                               *(["--compiled", args.compiled] if args.compiled else [])], capture_output=True,
                              text=True, env=env)
        if done.returncode != 0:  # the sizes measured so far still make a table
            print(f"N = {n} failed (exit {done.returncode}):\n{done.stderr[-3000:]}", file=sys.stderr)
            break
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"N = {n}: {json.dumps(results[-1])}", file=sys.stderr, flush=True)
    if not results:
        raise SystemExit("no size could be measured")
    report(results, Path(args.plot))


def from_log(path: Path) -> list[dict]:
    """The sizes measured in an earlier run's stderr (its ``N = n: {...}`` lines), for a run cut short."""
    lines = path.read_text().splitlines()
    return [json.loads(line.split(": ", 1)[1]) for line in lines if line.startswith("N = ") and ": {" in line]


def report(results: list[dict], plot_path: Path) -> None:
    """Print the tables of ``results`` (one dict per N) and draw the plot."""
    first = results[0]
    print(f"device {first['device']}, torch {first.get('torch', '?')}, {first.get('threads', '?')} threads")
    print("| N | pair-rounds/s batched | one by one | batched / one by one | cross-play 2,500 samples (s) | "
          "whole run (s) | ms per pair-round | relative to N = 2 | peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    base = first["run_s"] / first["run_pair_rounds"]
    for r in results:
        per = r["run_s"] / r["run_pair_rounds"]
        print(f"| {r['n']} | {r['pair_rounds_per_s_batched']:,.0f} | {r['pair_rounds_per_s_one-by-one']:,.0f} | "
              f"{r['pair_rounds_per_s_batched'] / r['pair_rounds_per_s_one-by-one']:.2f} | {r['crossplay_s']:.2f} | "
              f"{r['run_s']:.1f} | {1e3 * per:.3f} | {per / base:.2f} | {r['peak_mib']:.0f} |")
    fused = [(r, key) for r in results for key in r if key.startswith("pair_rounds_per_s_batched_")]
    if fused:
        option = fused[0][1].removeprefix("pair_rounds_per_s_batched_")
        print(f"\nThe matches batched with compute.{option} (the fused round; compiled before timing):")
        print(f"| N | pair-rounds/s, {option} | / eager batched | / one by one |")
        print("|---|---|---|---|")
        for r, key in fused:
            print(f"| {r['n']} | {r[key]:,.0f} | {r[key] / r['pair_rounds_per_s_batched']:.2f} | "
                  f"{r[key] / r['pair_rounds_per_s_one-by-one']:.2f} |")
    ns = [r["n"] for r in results]
    print("\nGrowth of each part's time per matching with N (slope on log-log axes; 2 = grows as N^2):")
    slopes = {part: slope(ns, [max(r["parts"][part], 1e-6) / r["matchings"] for r in results]) for part in PARTS}
    for part, s in sorted(slopes.items(), key=lambda kv: -kv[1] if kv[1] == kv[1] else 0):
        print(f"  {part:18s} {s:5.2f}")
    fastest = max((p for p in PARTS if p != "other"), key=lambda p: slopes[p] if slopes[p] == slopes[p] else -1)
    print(f"fastest growing: {fastest}")
    last = results[-1]
    print(f"\nWhere the time goes at N = {last['n']} (a whole run of {last['matchings']} matchings, {last['run_s']:.1f} s; "
          f"report {last['report_mb']:.1f} MB):")
    print("| part | seconds | share |")
    print("|---|---|---|")
    for part in PARTS:
        v = last["parts"][part]
        print(f"| {part} | {v:.2f} | {100 * v / last['run_s']:.1f} % |")
    plot(results, plot_path)
    print(f"\nplot: {plot_path}")


if __name__ == "__main__":
    main()
