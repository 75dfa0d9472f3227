"""Stacked MNIST (1,000 modes) over seeds: the single pair, the PacGAN-4 pair, the single pair
playing the tournament's own game (its discriminator updates, its mode-seeking term, its
generators' optimizer and EMA: what the population adds beyond its training recipe) and the
tournament (its raw mixture and its output), beside PacGAN's Table 3. Run by
``benchmarks/quality.py --data stacked-mnist``.

Every number is modes covered (of 1,000) and KL(triple histogram || uniform) in nats on 25,600
samples (latent seed 0) judged by the shipped digit classifier (arena/evaluation/digits.py): the
raw mixture with ``--no-panel``, the output as ``arena sample --mixture`` draws it (EMA, mixture
weights and panel as the config sets them). The pairs and the tournament play the same number of
pair-rounds; a second pair row plays as long, in seconds, as the tournament took. Each row also
splits its KL (``stacked_digits``) into the channels' digit frequencies and their dependence, and
gives the share of digits the classifier reads confidently (0.94 for real digits).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.config import config_to_dict, load_config  # noqa: E402
from arena.report.compare import format_cell, summarize  # noqa: E402
from arena.rundir import RunDir  # noqa: E402
from benchmarks.children import arena_cli  # noqa: E402

SAMPLES = 25_600
PACGAN = [  # PacGAN Table 3 (mean ± s.e. over 50 runs, 500k iterations, batch 128): modes, KL
    ("D = 1/4 G", "DCGAN", "78.5 ± 17.6", "5.21 ± 0.19"),
    ("D = 1/4 G", "Unrolled GAN, 10 steps (Metz)", "327.2 ± 74.7", "4.66 ± 0.46"),
    ("D = 1/4 G", "PacDCGAN4", "667.4 ± 29.0", "1.81 ± 0.15"),
    ("D = 1/2 G", "DCGAN", "487.7 ± 34.6", "2.24 ± 0.15"),
    ("D = 1/2 G", "Unrolled GAN, 10 steps", "817.4 ± 37.9", "1.43 ± 0.12"),
    ("D = 1/2 G", "PacDCGAN3", "866.6 ± 12.1", "0.90 ± 0.04"),
]


def train(config: str, seed: int, path: Path, sets: list[str] = ()) -> RunDir:
    """Train ``config`` with ``seed`` into ``path`` (continued where it stopped; skipped when done)."""
    if (path / RunDir.CONFIG).is_file():
        if not RunDir(path).has_checkpoint() or RunDir(path).load_checkpoint()["matching"] < \
                RunDir(path).config().schedule.matchings:
            arena_cli("resume", str(path), "--quiet")
    else:
        arena_cli("run", config, "--out", str(path), "--quiet", "--set", f"seed={seed}",
                  *[x for s in sets for x in ("--set", s)])
    return RunDir(path)


METRICS = ["stacked_modes", "stacked_digits"]


def judged(run_dir: RunDir, panel: bool) -> dict:
    """Modes, KL and its split of the run's output (``panel``) or raw mixture, on 25,600 samples,
    cached in the run directory (a cache from before the split is measured again)."""
    path = run_dir.path / f"stacked_{'output' if panel else 'raw'}.json"
    result = json.loads(path.read_text()) if path.is_file() else {}
    if "kl_digits" not in result:
        import arena

        run = arena.load(run_dir.path)
        result = run.evaluate("mixture", METRICS, SAMPLES, seed=0, save=False, panel=panel)["mixture"]
        path.write_text(json.dumps(result))
    return result


def own_game(tournament: str) -> list[str]:
    """``--set`` overrides that make the single pair play ``tournament``'s game (discriminator
    updates, mode-seeking term) with its generators' optimizer and weight average."""
    config = config_to_dict(load_config(tournament))
    generator = next(a for a in config["agents"] if a["role"] == "generator")
    return [f"game={json.dumps(config['game'])}", f"agents.0.optim={json.dumps(generator['optim'])}",
            *([f"agents.0.ema={json.dumps(generator['ema'])}"] if generator.get("ema") else [])]


def generators_judged(run_dir: RunDir) -> list[dict]:
    """Modes and KL of each generator alone (EMA weights where on), cached."""
    path = run_dir.path / "stacked_generators.json"
    if not path.is_file():
        import arena

        run = arena.load(run_dir.path)
        path.write_text(json.dumps(run.evaluate(None, ["stacked_modes"], SAMPLES, seed=0, save=False)))
    return list(json.loads(path.read_text()).values())


def train_rows(run_dir: RunDir) -> list[dict]:
    return [r for r in run_dir.metrics.read() if r["kind"] == "train"]


def pair_rounds(run_dir: RunDir) -> int:
    return max(r["rounds"] for r in train_rows(run_dir))


def seconds(run_dir: RunDir) -> float:
    return max(r["elapsed"] for r in train_rows(run_dir))


def table(rows: list[tuple[str, list[RunDir], list[dict]]], seeds: list[int]) -> None:
    print(f"\n### Stacked MNIST, D = 1/4 G ({len(seeds)} seeds, {SAMPLES:,} samples each; mean ± s.e. [worst seed])\n")
    print("| model | seeds | pair-rounds | modes (of 1,000) | KL (nats) | KL: digits + coupling, confident (means) "
          "| training (s) | per seed: modes / KL |")
    print("|---|---|---|---|---|---|---|---|")
    for label, runs, results in rows:
        modes = format_cell(summarize([r["modes"] for r in results], "higher"))
        kl = format_cell(summarize([r["kl"] for r in results], "lower"))
        digits, coupling, confident = (statistics.fmean(r[k] for r in results) for k in ("kl_digits", "kl_coupling", "confident"))
        split = f"{digits:.2f} + {coupling:.2f}, {confident:.2f}"
        wall = format_cell(summarize([seconds(d) for d in runs], None))
        each = ", ".join(f"{r['modes']} / {r['kl']:.2f}" for r in results)
        print(f"| {label} | {len(runs)} | {pair_rounds(runs[0]):,} | {modes} | {kl} | {split} | {wall} | {each} |")
    for size, method, modes, kl in PACGAN:
        print(f"| PacGAN Table 3, {size}: {method} | 50 | 500,000 | {modes} | {kl} | | | |")


def main(seeds: list[int], out: Path, tournament: str = "configs/stacked_mnist_gman.yaml",
         wall: bool = True) -> None:
    """Seed by seed (a session cut short keeps whole seeds): the tournament, then the pairs at its
    pair-rounds and (``wall``) at its wall time."""
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[RunDir]] = {"tour": [], "pair": [], "pac": [], "pair_wall": [], "pair_game": []}
    steps = 100
    for seed in seeds:
        name = "tournament" if Path(tournament).name == "stacked_mnist_tournament.yaml" else Path(tournament).stem
        tour = train(tournament, seed, out / f"seed{seed}" / name)
        rounds = pair_rounds(tour)
        pair = train("configs/stacked_mnist.yaml", seed, out / f"seed{seed}" / "pair", [f"schedule.matchings={rounds // steps}"])
        pac = train("configs/stacked_mnist_pacgan4.yaml", seed, out / f"seed{seed}" / "pacgan4",
                    [f"schedule.matchings={rounds // steps}"])
        game = train("configs/stacked_mnist.yaml", seed, out / f"seed{seed}" / "pair_game",
                     [f"schedule.matchings={rounds // steps}", *own_game(tournament)])
        rate = pair_rounds(pair) / seconds(pair)
        for key, d in (("tour", tour), ("pair", pair), ("pac", pac), ("pair_game", game)):
            runs[key].append(d)
        if wall:
            runs["pair_wall"].append(train("configs/stacked_mnist.yaml", seed, out / f"seed{seed}" / "pair_wall",
                                           [f"schedule.matchings={max(1, int(rate * seconds(tour)) // steps)}"]))
        print(f"seed {seed} done: tournament {judged(tour, False)['modes']} modes raw, {judged(tour, True)['modes']} output; "
              f"pair {judged(pair, False)['modes']}; PacGAN-4 {judged(pac, False)['modes']}; "
              f"pair playing the tournament's game {judged(game, False)['modes']}"
              + (f"; pair at the same wall time {judged(runs['pair_wall'][-1], False)['modes']}" if wall else ""), flush=True)
    rows = [
        ("single pair (configs/stacked_mnist.yaml), same pair-rounds", runs["pair"], [judged(d, False) for d in runs["pair"]]),
        *([("single pair, same wall time as the tournament", runs["pair_wall"], [judged(d, False) for d in runs["pair_wall"]])]
          if wall else []),
        ("PacGAN-4 pair (configs/stacked_mnist_pacgan4.yaml), same pair-rounds", runs["pac"],
         [judged(d, False) for d in runs["pac"]]),
        ("single pair playing the tournament's game, with its generators' optimizer and EMA, same pair-rounds", runs["pair_game"],
         [judged(d, False) for d in runs["pair_game"]]),
        (f"tournament ({tournament}): raw mixture, no panel", runs["tour"], [judged(d, False) for d in runs["tour"]]),
        (f"tournament ({tournament}): output", runs["tour"], [judged(d, True) for d in runs["tour"]]),
    ]
    table(rows, seeds)
    print("\nThe tournament's generators alone (modes / KL, each seed):\n")
    for s, d in zip(seeds, runs["tour"]):
        gens = generators_judged(d)
        print(f"- seed {s}: " + ", ".join(f"{g['modes']} / {g['kl']:.2f}" for g in gens))
