"""A tournament on N CPU ranks (torchrun, gloo) beside the same tournament in one process.

Runs the config three times: one process with 1 thread, N ranks with 1 thread each (the same
arithmetic, so the results should agree bit for bit) and one process with N threads (the same
cores as the N ranks, for the wall-clock comparison). Prints a table of wall time, pair-rounds
per second and the final evaluation, and whether the weights, results.json, lineage.json and
mixture.json of the N-rank run equal the 1-thread run's.

    python benchmarks/distributed.py                                  # tournament_ring8, 20 matchings, 2 ranks
    python benchmarks/distributed.py --ranks 2 --set schedule.matchings=100
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.rundir import RunDir  # noqa: E402
from benchmarks.children import child_env  # noqa: E402


def run(args: list[str], threads: int) -> float:
    env = child_env(OMP_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def final_eval(path: Path) -> dict:
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if r["kind"] == "eval" and r.get("agent") == "mixture"]
    return evals[-1] if evals else {}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/tournament_ring8.yaml")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--set", dest="overrides", action="append", default=None, metavar="KEY.PATH=VALUE")
    args = p.parse_args()
    overrides = args.overrides if args.overrides is not None else ["schedule.matchings=20"]
    sets = [x for o in overrides + ["device=cpu"] for x in ("--set", o)]
    with tempfile.TemporaryDirectory() as tmp:
        out = {name: Path(tmp) / name for name in ("one-1", "ranks", "one-n")}
        arena = [sys.executable, "-m", "arena", "run", str(ROOT / args.config), "--quiet", *sets]
        ranks = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(args.ranks),
                 "-m", "arena", "run", str(ROOT / args.config), "--quiet", *sets]
        wall = {
            "one-1": run([*arena, "--out", str(out["one-1"])], 1),
            "ranks": run([*ranks, "--out", str(out["ranks"])], 1),
            "one-n": run([*arena, "--out", str(out["one-n"])], args.ranks),
        }
        a, b = RunDir(out["one-1"]).load_checkpoint(), RunDir(out["ranks"]).load_checkpoint()
        worst = max((x.float() - b["agents"][name]["net"][k].float()).abs().max().item()
                    for name, state in a["agents"].items() for k, x in state["net"].items())
        same = {f: (out["one-1"] / f).read_text() == (out["ranks"] / f).read_text()
                for f in ("results.json", "lineage.json", "mixture.json")}
        print(f"{args.config} {' '.join(overrides)}, torch {torch.__version__}, {a['rounds']:,} pair-rounds")
        print("| run | threads | wall s | pair-rounds/s | mixture modes | high quality % | reverse KL |")
        print("|---|---|---|---|---|---|---|")
        labels = {"one-1": ("1 process", 1), "ranks": (f"{args.ranks} ranks (gloo)", 1), "one-n": ("1 process", args.ranks)}
        for key, (label, threads) in labels.items():
            ev = final_eval(out[key])
            print(f"| {label} | {threads}{' each' if key == 'ranks' else ''} | {wall[key]:.1f} | "
                  f"{a['rounds'] / wall[key]:.0f} | {ev.get('modes', float('nan')):.0f} | "
                  f"{ev.get('high_quality', float('nan')):.1f} | {ev.get('reverse_kl', float('nan')):.3f} |")
        print(f"{args.ranks} ranks vs 1 process (1 thread): largest weight difference {worst:.3g}; "
              + ", ".join(f"{f} {'identical' if v else 'DIFFERENT'}" for f, v in same.items()))


if __name__ == "__main__":
    main()
