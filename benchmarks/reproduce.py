"""Run the baselines over several seeds and print one table beside the published rows.

Each run goes through the real CLI (`arena run`, then `arena eval --seed 0`), so the table
measures what a user gets. Mean and standard error over seeds.

    python benchmarks/reproduce.py                         # everything, 5 seeds for the toy mixtures
    python benchmarks/reproduce.py --only ring8 --seeds 0 1 2
    python benchmarks/reproduce.py --only tournament_ring8 tournament_grid25 --seeds 0
    python benchmarks/reproduce.py --out benchmarks/runs   # where run directories go
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# PacGAN Table 1, GAN row (REFERENCE.md): modes / % high quality / reverse KL, mean +- s.e. over 10 trials
PACGAN_GAN = {"ring8": ((6.3, 0.5), (98.2, 0.2), (0.45, 0.09)), "grid25": ((17.3, 0.8), (94.8, 0.7), (0.70, 0.07))}
PAPER_PARZEN_MNIST = (225, 2)  # Goodfellow et al. (2014), Table 1


def mean_se(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v == v]
    if not values:
        return float("nan"), float("nan")
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, float("nan")
    var = sum((v - m) ** 2 for v in values) / (len(values) - 1)
    return m, math.sqrt(var / len(values))


def fmt(ms: tuple[float, float], digits: int = 2) -> str:
    m, se = ms
    return f"{m:.{digits}f}" if se != se else f"{m:.{digits}f} ± {se:.{digits}f}"


def arena(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "arena", *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"arena {' '.join(args)} failed:\n{done.stderr}")


def run_and_eval(config: str, seed: int, out: Path, sets: list[str], eval_args: list[str], mixture: bool = False) -> dict:
    """Run (or finish) one config and evaluate it; returns the first generator's metrics, or with
    ``mixture`` a dict with the mixture's and the top-rated generator's metrics."""
    run_dir = out / f"{Path(config).stem}-seed{seed}"
    if not (run_dir / "eval.json").is_file():
        if run_dir.exists():
            arena("resume", str(run_dir), "--quiet")
        else:
            arena("run", config, "--set", f"seed={seed}", *[x for s in sets for x in ("--set", s)], "--out", str(run_dir), "--quiet")
        arena("eval", str(run_dir), "--seed", "0", *eval_args)
        if mixture:
            arena("eval", str(run_dir), "--seed", "0", "--mixture")
    result = json.loads((run_dir / "eval.json").read_text())
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    wall = max((r.get("elapsed", 0.0) for r in rows if r["kind"] == "train"), default=float("nan"))
    if not mixture:
        return {**next(iter(result.values())), "wall_s": wall}
    board = json.loads((run_dir / "leaderboard.json").read_text())
    best = next(r["agent"] for r in board["rows"] if r["role"] == "generator" and r["rank"] == 1)
    return {"mixture": result["mixture"], "best": {**result[best], "agent": best}, "wall_s": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--only", nargs="+", choices=["ring8", "grid25", "classic", "digits", "tournament_ring8", "tournament_grid25"])
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "runs"))
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = set(args.only or ["ring8", "grid25", "classic", "digits", "tournament_ring8", "tournament_grid25"])
    started = time.time()
    lines = []

    toy = [name for name in ("ring8", "grid25") if name in wanted]
    if toy:
        lines.append("| model | data | seeds | modes | % high quality | reverse KL | train wall (s) |")
        lines.append("| --- | --- | --- | --- | --- | --- | --- |")
        for name in toy:
            res = [run_and_eval(f"configs/{name}.yaml", s, out, ["device=cpu"], []) for s in args.seeds]
            modes = mean_se([r["modes"] for r in res])
            hq = mean_se([r["high_quality"] for r in res])
            rkl = mean_se([r["reverse_kl"] for r in res])
            wall = mean_se([r["wall_s"] for r in res])
            lines.append(f"| classic GAN (configs/{name}.yaml) | {name} | {len(res)} | {fmt(modes, 1)} | {fmt(hq, 1)} | {fmt(rkl)} | {fmt(wall, 0)} |")
            pm, ph, pk = PACGAN_GAN[name]
            lines.append(f"| PacGAN Table 1, GAN (400 epochs) | {name} | 10 | {fmt(pm, 1)} | {fmt(ph, 1)} | {fmt(pk)} | |")
    tournaments = [name for name in ("tournament_ring8", "tournament_grid25") if name in wanted]
    if tournaments:
        lines += ["", "| model | data | seeds | modes | % high quality | reverse KL | train wall (s) |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for name in tournaments:
            data = name.split("_")[1]
            res = [run_and_eval(f"configs/{name}.yaml", s, out, ["device=cpu"], [], mixture=True) for s in args.seeds]
            wall = fmt(mean_se([r["wall_s"] for r in res]), 0)
            for who, label in (("mixture", "mixture of the best"), ("best", "top-rated generator")):
                cells = [fmt(mean_se([r[who][k] for r in res]), d) for k, d in (("modes", 1), ("high_quality", 1), ("reverse_kl", 2))]
                lines.append(f"| 4 x 4 tournament (configs/{name}.yaml), {label} | {data} | {len(res)} | {' | '.join(cells)} | {wall} |")
            pm, ph, pk = PACGAN_GAN[data]
            lines.append(f"| PacGAN Table 1, GAN (400 epochs) | {data} | 10 | {fmt(pm, 1)} | {fmt(ph, 1)} | {fmt(pk)} | |")
    if "classic" in wanted:
        r = run_and_eval("configs/classic_gan.yaml", 0, out, ["device=cpu"], ["--metrics", "parzen"])
        lines += ["", "| model | data | Parzen log-likelihood (test) | sigma | train wall (s) |", "| --- | --- | --- | --- | --- |"]
        lines.append(f"| classic GAN (configs/classic_gan.yaml), seed 0 | mnist5k (1,000 test images) | "
                     f"{r['parzen_ll']:.1f} ± {r['parzen_se']:.1f} | {r['parzen_sigma']:.3f} | {r['wall_s']:.0f} |")
        lines.append(f"| Adversarial nets (Goodfellow et al., 2014, Table 1) | MNIST (10,000 test images) | "
                     f"{PAPER_PARZEN_MNIST[0]} ± {PAPER_PARZEN_MNIST[1]} | | |")
        mnist_dir = ROOT / "data" / "mnist"
        if any(mnist_dir.glob("t10k-images-idx3-ubyte*")):
            r = run_and_eval("configs/classic_gan.yaml", 0, out / "mnist", ["device=cpu", "data.source=mnist"], ["--metrics", "parzen"])
            lines.append(f"| classic GAN, seed 0 | MNIST | {r['parzen_ll']:.1f} ± {r['parzen_se']:.1f} | {r['parzen_sigma']:.3f} | {r['wall_s']:.0f} |")
    if "digits" in wanted:
        res = [run_and_eval("configs/digits.yaml", s, out, ["device=cpu"], ["--metrics", "coverage,fd,precision_recall"]) for s in args.seeds]
        lines += ["", "| model | data | seeds | classes covered | class KL | FD | precision | recall | classifier acc. |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        lines.append(
            f"| DCGAN (configs/digits.yaml) | digits | {len(res)} | {fmt(mean_se([r['classes_covered'] for r in res]), 1)} | "
            f"{fmt(mean_se([r['class_kl'] for r in res]), 3)} | {fmt(mean_se([r['fd'] for r in res]))} | "
            f"{fmt(mean_se([r['precision'] for r in res]))} | {fmt(mean_se([r['recall'] for r in res]))} | "
            f"{res[0]['classifier_accuracy']:.3f} |"
        )
    print("\n".join(lines))
    print(f"\n(total wall time {time.time() - started:.0f} s; run directories in {out})")


if __name__ == "__main__":
    main()
