"""Does the tournament beat the best single pair? Quality over seeds, through the CLI.

For ring8 and grid25, at least 3 seeds each, every number measured by `arena eval --mixture
--seed 0` on 2,500 samples (the output: the mixture through the discriminator panel, with EMA
weights, as the configs turn them on):

- (a) the improved single pair (configs/pair_<data>.yaml: the tournament's networks, one
  generator and one discriminator, EMA, a learning-rate decay over the last 40 %, its own
  discriminator as the panel), at the same number of pair-rounds as the tournament, and for the
  same wall time on this CPU;
- (b) the tournament's output (configs/tournament_<data>.yaml);

mean ± standard error [worst seed] of modes, % high quality, reverse KL and `spread` (the
high-quality samples' spread about their modes over the data's: below 1, the modes are contracted,
which % high quality rewards) and `mode_tv` (the total variation from the data over its modes and
off them: blur, missing and uneven modes on one scale), beside PacGAN's GAN and PacGAN4 rows
(REFERENCE.md); the time to quality (seconds of training until the output first covers every mode
with >= 95 % high quality, from the evaluations during training); and Spearman's rho between the ratings and the
true quality of a population with a spread of quality: the generators of a tournament at every
kept checkpoint (snapshots of training at 10 %, 20 %, ..., 100 %), rated by `arena league
--checkpoints all --truth` (the truth measured on 10,000 samples of each generator's own, apart from
those the discriminators judge), within each run (its own discriminators as the panel; mean ± s.e.
[worst] over the seeds) and pooled over all runs (every run's final discriminators), over every
snapshot and over the second half of training (where the generators are about as sharp), beside the
rank correlation between the two true measures themselves in that population: where % high
quality and reverse KL barely agree, no rating can track both (two rank correlations of at least
0.8 with one rating force rho(a, c) >= 2 x 0.8^2 - 1 = 0.28 between them).

    python benchmarks/quality.py                       # ring8 and grid25, seeds 0 1 2
    python benchmarks/quality.py --data ring8 --seeds 0 1 2 3 4
    python benchmarks/quality.py --out benchmarks/runs/quality
    python benchmarks/quality.py --data ring8 --ratings-only   # the tournaments and the ratings only
    python benchmarks/quality.py --data stacked-mnist          # Stacked MNIST: benchmarks/stacked.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.children import arena_cli  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))

from arena.config import load_config  # noqa: E402
from arena.report.compare import DIRECTION, format_cell, load_group, summarize  # noqa: E402
from arena.rundir import RunDir  # noqa: E402
from arena.rundir.seeds import SeedsDir  # noqa: E402
from arena.skill import spearman  # noqa: E402

PACGAN = {  # PacGAN Table 1 (10 trials): modes, % high quality, reverse KL
    "ring8": {"GAN": ("6.3 ± 0.5", "98.2 ± 0.2", "0.45 ± 0.09"), "PacGAN4": ("7.8 ± 0.1", "95.9 ± 1.4", "0.07 ± 0.02")},
    "grid25": {"GAN": ("17.3 ± 0.8", "94.8 ± 0.7", "0.70 ± 0.07"), "PacGAN4": ("24.8 ± 0.2", "93.6 ± 0.6", "0.04 ± 0.01")},
}
MODES = {"ring8": 8, "grid25": 25}
# ten snapshots of each tournament for the ratings' population (checkpoints do not change training)
SNAPSHOTS = {"ring8": ["checkpoint.every=5", "checkpoint.keep_last=10"], "grid25": []}
JUDGES = ("game", "auc", "likelihood", "manifold", "density-coverage")
METRICS = ["modes", "high_quality", "reverse_kl", "spread", "mode_tv"]


def run_seeds(config: str, seeds: list[int], parent: Path, sets: list[str]) -> Path:
    if SeedsDir.holds(parent):
        if not SeedsDir(parent).finished:
            arena_cli("resume", str(parent), "--quiet")
    else:
        arena_cli("run", config, "--seeds", ",".join(map(str, seeds)), "--out", str(parent), "--quiet",
                  *[x for s in sets for x in ("--set", s)])
    for _, run_dir in SeedsDir(parent).runs():
        if not set(METRICS) <= set(run_dir.evaluations().get("mixture", {})):
            arena_cli("eval", str(run_dir.path), "--mixture", "--seed", "0", "-n", "2500")
    return parent


def budget(matchings: int, steps: int) -> list[str]:
    """Overrides that give the pair ``matchings`` matchings, its learning-rate decay over the last
    40 % of them and its weight average from 10 % on."""
    total = matchings * steps
    sets = [f"schedule.matchings={matchings}", f"agents.0.ema.start={total // 10}",
            f"review.every={max(1, matchings // 4)}", f"checkpoint.every={max(1, matchings // 4)}"]
    for i in (0, 1):
        sets += [f"agents.{i}.optim.schedule.start={int(0.6 * total)}", f"agents.{i}.optim.schedule.steps={int(0.4 * total)}"]
    return sets


def training_seconds(run_dir: RunDir) -> float:
    rows = [r for r in run_dir.metrics.read() if r["kind"] == "train"]
    return max(r["elapsed"] for r in rows)


def pair_rounds(run_dir: RunDir) -> int:
    rows = [r for r in run_dir.metrics.read() if r["kind"] == "train"]
    return max(r["rounds"] for r in rows)


def time_to_quality(run_dir: RunDir, modes: int) -> float | None:
    """Seconds of training until the output first covered every mode with >= 95 % high quality."""
    rows = run_dir.metrics.read()
    elapsed = {r["matching"]: r["elapsed"] for r in rows if r["kind"] == "train"}
    output = [r for r in rows if r["kind"] == "eval" and r["agent"] in ("output", "mixture", "g")]
    best = {}
    for r in output:  # the panel's output where there is one, else the mixture, else the generator
        rank = {"output": 0, "mixture": 1, "g": 2}[r["agent"]]
        if r["matching"] not in best or rank < best[r["matching"]][0]:
            best[r["matching"]] = (rank, r)
    for matching in sorted(best):
        r = best[matching][1]
        if r.get("modes") == modes and r.get("high_quality", 0) >= 95 and matching in elapsed:
            return elapsed[matching]
    return None


def row(label: str, parent: Path, modes: int) -> tuple[str, dict]:
    group = load_group(parent, "mixture", "eval")
    cells = [format_cell(summarize([r["metrics"][m] for r in group.runs.values()], DIRECTION[m])) for m in METRICS]
    runs = [d for _, d in SeedsDir(parent).runs()]
    wall = summarize([training_seconds(d) for d in runs], None)
    ttq = [time_to_quality(d, modes) for d in runs]
    reached = [t for t in ttq if t is not None]
    ttq_text = (f"{format_cell(summarize(reached, 'lower'))} ({len(reached)}/{len(ttq)} seeds)" if reached
                else f"not reached (0/{len(ttq)})")
    rounds = pair_rounds(runs[0])
    values = {m: [r["metrics"][m] for r in group.runs.values()] for m in METRICS}
    return (f"| {label} | {len(runs)} | {rounds:,} | {' | '.join(cells)} | {format_cell(wall)} | {ttq_text} |", values)


def rho_text(rho: float | None) -> str:
    """A correlation, or why there is none (every generator measured alike, e.g. all modes)."""
    return "undefined (all alike)" if rho is None or rho != rho else f"{rho:+.2f}"


def league(runs: list[RunDir], judge: str, path: Path) -> dict:
    """``arena league`` of ``runs`` (every kept checkpoint, with the truth) under ``judge``, cached in ``path``."""
    if not path.is_file():
        arena_cli("league", *[str(d.path) for d in runs], "--checkpoints", "all", "--truth", "--judgement", judge,
                  "-o", str(path))
    return json.loads(path.read_text())


def truth_agreement(rows: list[dict]) -> float:
    """Spearman's rho between % high quality and reverse KL over a league's generators."""
    pairs = [(r["high_quality"], r["reverse_kl"]) for r in rows if r.get("reverse_kl") == r.get("reverse_kl")]
    return spearman([p[0] for p in pairs], [p[1] for p in pairs])


def late(rows: list[dict]) -> list[dict]:
    """The league's generators from the second half of training (at least half the last matching)."""
    last = max(r["matching"] for r in rows)
    return [r for r in rows if r["matching"] >= last / 2]


def correlations(rows: list[dict], measures: tuple[str, ...]) -> dict[str, float]:
    """Spearman's rho between rating and each measure over ``rows`` (NaN measures left out)."""
    out = {}
    for m in measures:
        pairs = [(r["rating"], r[m]) for r in rows if isinstance(r.get(m), (int, float)) and r[m] == r[m]]
        out[m] = spearman([p[0] for p in pairs], [p[1] for p in pairs])
    return out


def ratings_tables(data: str, runs: list[RunDir], seeds: list[int], out: Path) -> None:
    """Spearman's rho between rating and true quality, within each run and pooled over the runs:
    over every kept checkpoint, and over those of the second half of training alone (where the
    generators are about as sharp, so that reverse KL compares like with like: a snapshot early in
    training, with a few percent of its samples of high quality, spreads those few evenly)."""
    measures = ("high_quality", "modes", "reverse_kl", "mode_tv")
    direction = {"high_quality": "higher", "modes": "higher", "reverse_kl": "lower", "mode_tv": "lower"}
    header = ("| judgement | generators | rho with % high quality | rho with modes | rho with reverse KL (lower is better) "
              "| rho with mode TV (lower is better) |\n|---|---|---|---|---|---|")
    within = {judge: [league([d], judge, out / f"league_{data}_{judge}_seed{s}.json") for s, d in zip(seeds, runs)]
              for judge in JUDGES}
    pooled = {judge: league(runs, judge, out / f"league_{data}_{judge}.json") for judge in JUDGES}
    for part, select in (("every kept checkpoint", lambda rows: rows), ("the second half of training", late)):
        print(f"\nSpearman's rho between rating and true quality within each run, {part} (against the run's own final "
              f"discriminators; mean ± s.e. [worst] over {len(runs)} seeds):\n")
        print(header)
        for judge, leagues in within.items():
            cells = []
            for m in measures:
                values = [correlations(select(lg["rows"]), (m,))[m] for lg in leagues]
                values = [v for v in values if v == v]  # none where a run's generators are all alike
                cell = format_cell(summarize(values, direction[m])) if values else "undefined (all alike)"
                cells.append(cell if len(values) in (0, len(leagues)) else f"{cell} ({len(values)} runs; others all alike)")
            print(f"| {judge} | {len(select(leagues[0]['rows']))} | {' | '.join(cells)} |")
        agreement = [truth_agreement(select(lg["rows"])) for lg in within[JUDGES[0]]]
        print(f"\nrho between % high quality and reverse KL themselves, within each run: "
              f"{', '.join(rho_text(a) for a in agreement)}")
        print(f"\nSpearman's rho between rating and true quality pooled, {part} (every generator of the {len(runs)} "
              f"tournaments against all their final discriminators):\n")
        print(header)
        for judge, lg in pooled.items():
            c = correlations(select(lg["rows"]), measures)
            print(f"| {judge} | {len(select(lg['rows']))} | {' | '.join(rho_text(c.get(m)) for m in measures)} |")
        print(f"\nrho between % high quality and reverse KL themselves, pooled: "
              f"{rho_text(truth_agreement(select(pooled[JUDGES[0]]['rows'])))}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", default=["ring8", "grid25"], choices=["ring8", "grid25", "stacked-mnist"],
                   help="stacked-mnist: benchmarks/stacked.py's table (pairs, PacGAN-4, the tournament's raw mixture "
                        "and output, beside PacGAN's Table 3)")
    p.add_argument("--tournament", default="configs/stacked_mnist_gman.yaml",
                   help="the tournament config of --data stacked-mnist")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--no-wall", action="store_true",
                   help="stacked-mnist: leave out the single pair trained as long as the tournament took")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "runs" / "quality"))
    p.add_argument("--ratings-only", action="store_true",
                   help="only the tournaments and the ratings against true quality (no single pairs)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    for data in args.data:
        if data == "stacked-mnist":
            import stacked

            stacked.main(args.seeds, out / "stacked_mnist", args.tournament, wall=not args.no_wall)
            continue
        modes = MODES[data]
        tour = run_seeds(f"configs/tournament_{data}.yaml", args.seeds, out / f"tournament_{data}", SNAPSHOTS[data])
        if args.ratings_only:
            ratings_tables(data, [d for _, d in SeedsDir(tour).runs()], args.seeds, out)
            continue
        first = SeedsDir(tour).runs()[0][1]
        rounds, wall = pair_rounds(first), max(training_seconds(d) for _, d in SeedsDir(tour).runs())
        pair_cfg = f"configs/pair_{data}.yaml"
        pair = load_config(ROOT / pair_cfg)
        per_matching = pair.schedule.steps_per_match
        same_rounds = run_seeds(pair_cfg, args.seeds, out / f"pair_{data}_rounds", budget(rounds // per_matching, per_matching))
        # the same wall time: as many matchings as the pair plays in the tournament's seconds
        probe = SeedsDir(same_rounds).runs()[0][1]
        rate = pair_rounds(probe) / training_seconds(probe)
        same_wall = run_seeds(pair_cfg, args.seeds, out / f"pair_{data}_wall",
                              budget(max(1, int(rate * wall) // per_matching), per_matching))
        print(f"\n### {data} ({len(args.seeds)} seeds; 2,500 samples; mean ± s.e. [worst seed])\n")
        print("| model | seeds | pair-rounds | modes | % high quality | reverse KL | spread | mode TV | training (s) | time to quality (s) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        lines = [row(f"(b) tournament output (configs/tournament_{data}.yaml)", tour, modes),
                 row("(a) improved single pair, same pair-rounds", same_rounds, modes),
                 row("(a) improved single pair, same wall time", same_wall, modes)]
        for text, _ in lines:
            print(text)
        for name, cells in PACGAN[data].items():
            print(f"| PacGAN Table 1, {name} (400 epochs) | 10 | 400,000 | {' | '.join(cells)} | | | | |")
        ratings_tables(data, [d for _, d in SeedsDir(tour).runs()], args.seeds, out)
    print(f"\n(total wall time {time.time() - started:.0f} s; runs in {out})")


if __name__ == "__main__":
    main()
