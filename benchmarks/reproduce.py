"""Run the baselines over several seeds and print one table beside the published rows.

Each config goes through the real CLI: `arena run CONFIG --seeds ...` into one parent directory,
then `arena eval --seed 0` (and `--mixture` for tournaments) on every seed's run; the table's
mean ± standard error [worst seed] come from `arena compare`'s own code
(:mod:`arena.report.compare`), so this script aggregates nothing itself.

    python benchmarks/reproduce.py                         # everything, 5 seeds for the toy mixtures
    python benchmarks/reproduce.py --only ring8 --seeds 0 1 2
    python benchmarks/reproduce.py --only tournament_ring8 tournament_grid25 --seeds 0
    python benchmarks/reproduce.py --out benchmarks/runs   # where the parent directories go
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.report.compare import DIRECTION, format_cell, load_group, summarize  # noqa: E402
from arena.rundir.seeds import SeedsDir  # noqa: E402
from benchmarks.children import arena_cli  # noqa: E402

# PacGAN Table 1, GAN row (REFERENCE.md): modes / % high quality / reverse KL, mean +- s.e. over 10 trials
PACGAN_GAN = {"ring8": ("6.3 ± 0.5", "98.2 ± 0.2", "0.45 ± 0.09"), "grid25": ("17.3 ± 0.8", "94.8 ± 0.7", "0.70 ± 0.07")}
PAPER_PARZEN_MNIST = (225, 2)  # Goodfellow et al. (2014), Table 1


def run_seeds(config: str, seeds: list[int], out: Path, sets: list[str], eval_args: list[list[str]]) -> Path:
    """`arena run --seeds` (or `arena resume` of an unfinished parent), then `arena eval` on every seed."""
    parent = out / Path(config).stem
    if SeedsDir.holds(parent):
        arena_cli("resume", str(parent), "--quiet")
    else:
        arena_cli("run", config, "--seeds", ",".join(map(str, seeds)), *[x for s in sets for x in ("--set", s)],
              "--out", str(parent), "--quiet")
    for _, run_dir in SeedsDir(parent).runs():
        done = run_dir.evaluations()
        for extra in eval_args:
            key = "mixture" if "--mixture" in extra else None
            if key is None or key not in done:
                arena_cli("eval", str(run_dir.path), "--seed", "0", *extra)
    return parent


def cells(parent: Path, agent: str, metrics: list[str]) -> list[str]:
    """``mean ± s.e. [worst]`` of each metric over the seeds, as `arena compare` computes them."""
    group = load_group(parent, agent, "eval")
    out = []
    for m in metrics:
        values = [r["metrics"][m] for r in group.runs.values()]
        out.append(format_cell(summarize(values, DIRECTION.get(m))))
    return out


def wall(parent: Path) -> str:
    times = []
    for _, run_dir in SeedsDir(parent).runs():
        rows = [r for r in run_dir.metrics.read() if r["kind"] == "train"]
        times.append(max(r.get("elapsed", 0.0) for r in rows))
    return format_cell(summarize(times, None))


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
    toy_metrics = ["modes", "high_quality", "reverse_kl"]
    head = ["| model | data | seeds | modes | % high quality | reverse KL | train wall (s) |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    lines = []
    for name in [n for n in ("ring8", "grid25") if n in wanted]:
        parent = run_seeds(f"configs/{name}.yaml", args.seeds, out, ["device=cpu"], [[]])
        lines += [] if lines else head
        lines.append(f"| classic GAN (configs/{name}.yaml) | {name} | {len(args.seeds)} | "
                     f"{' | '.join(cells(parent, 'output', toy_metrics))} | {wall(parent)} |")
        lines.append(f"| PacGAN Table 1, GAN (400 epochs) | {name} | 10 | {' | '.join(PACGAN_GAN[name])} | |")
    tournaments = [n for n in ("tournament_ring8", "tournament_grid25") if n in wanted]
    if tournaments:
        lines += ["", *head]
    for name in tournaments:
        data = name.split("_")[1]
        parent = run_seeds(f"configs/{name}.yaml", args.seeds, out, ["device=cpu"], [[], ["--mixture"]])
        for agent, label in (("mixture", "the mixture"), ("best", "the top-rated generator")):
            lines.append(f"| 4 x 4 tournament (configs/{name}.yaml), {label} | {data} | {len(args.seeds)} | "
                         f"{' | '.join(cells(parent, agent, toy_metrics))} | {wall(parent)} |")
        lines.append(f"| PacGAN Table 1, GAN (400 epochs) | {data} | 10 | {' | '.join(PACGAN_GAN[data])} | |")
    if "classic" in wanted:
        parent = run_seeds("configs/classic_gan.yaml", [0], out, ["device=cpu"], [["--metrics", "parzen"]])
        r = next(iter(load_group(parent, "output", "eval").runs.values()))["metrics"]
        se = json.loads((SeedsDir(parent).run_path(0) / "eval.json").read_text())["g"]["parzen_se"]
        lines += ["", "| model | data | Parzen log-likelihood (test) | sigma | train wall (s) |", "| --- | --- | --- | --- | --- |"]
        lines.append(f"| classic GAN (configs/classic_gan.yaml), seed 0 | mnist5k (1,000 test images) | "
                     f"{r['parzen_ll']:.1f} ± {se:.1f} | {json.loads((SeedsDir(parent).run_path(0) / 'eval.json').read_text())['g']['parzen_sigma']:.3f} | {wall(parent)} |")
        lines.append(f"| Adversarial nets (Goodfellow et al., 2014, Table 1) | MNIST (10,000 test images) | "
                     f"{PAPER_PARZEN_MNIST[0]} ± {PAPER_PARZEN_MNIST[1]} | | |")
    if "digits" in wanted:
        parent = run_seeds("configs/digits.yaml", args.seeds, out, ["device=cpu"], [["--metrics", "coverage,fd,precision_recall"]])
        keys = ["classes_covered", "class_kl", "fd", "precision", "recall"]
        lines += ["", "| model | data | seeds | classes covered | class KL | FD | precision | recall |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        lines.append(f"| DCGAN (configs/digits.yaml) | digits | {len(args.seeds)} | {' | '.join(cells(parent, 'output', keys))} |")
    print("\n".join(lines))
    print(f"\n(mean ± s.e. [worst seed]; total wall time {time.time() - started:.0f} s; parent directories in {out})")


if __name__ == "__main__":
    main()
