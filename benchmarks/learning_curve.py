"""A Stacked MNIST run's learning curve: modes of 1,000 and KL against rounds, from its checkpoints.

Issue 53's baseline question: at CPU scale PacGAN-4 (``configs/stacked_mnist_pacgan4.yaml``)
covers a handful of modes at 19,200 rounds, against PacGAN's 667 at 500k iterations. Is it the
budget or the packing? This plays one seed of a config for ``--rounds`` rounds (100,000 by
default, five times the shipped budget) with a checkpoint every ``--every`` rounds, then reads
every checkpoint's generator (25,600 samples, the shipped classifier, a judge only) and draws
modes and KL against rounds. The run resumes where it stopped (``arena resume``), and each
checkpoint's figures are kept in ``curve.json`` beside it, so the script can be stopped and run
again at any point.

    OMP_NUM_THREADS=1 python benchmarks/learning_curve.py configs/stacked_mnist_pacgan4.yaml
    python benchmarks/learning_curve.py configs/stacked_mnist_pacgan4.yaml --plot
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import arena  # noqa: E402
from arena.api import restore  # noqa: E402
from arena.config import load_config  # noqa: E402
from arena.evaluation.digits import classify_channels, digit_balance, digit_classifier, stacked_modes  # noqa: E402

SAMPLES = 25_600


def train(config: Path, seed: int, rounds: int, every: int, out: Path) -> arena.Run:
    """Play (or finish) the run: ``rounds`` rounds, a checkpoint every ``every``, all of them kept."""
    steps = load_config(config).schedule.steps_per_match
    if rounds % steps or every % steps:
        raise SystemExit(f"--rounds and --every must be multiples of the config's steps_per_match ({steps})")
    matchings, each = rounds // steps, every // steps
    if (out / "run.json").exists() or any(out.glob("checkpoints/*")):
        run = arena.load(out)
        if run.finished:
            return run
        print(f"resuming {out} at matching {run.completed} of {matchings}", flush=True)
        return arena.resume(out)
    overrides = [f"seed={seed}", f"schedule.matchings={matchings}", f"checkpoint.every={each}",
                 f"checkpoint.keep_last={matchings // each}", f"review.every={each}"]
    return arena.run(config, out=out, overrides=overrides)


def measure(out: Path) -> list[dict]:
    """Every checkpoint's generator on 25,600 samples (cached in ``curve.json``)."""
    cache = out / "curve.json"
    points = {p["matching"]: p for p in json.loads(cache.read_text())} if cache.exists() else {}
    run = arena.load(out)
    model, _, _ = digit_classifier(run.arena.data.kind.digits())
    steps = run.config.schedule.steps_per_match
    for manifest in run.dir.checkpoints():
        state = run.dir.load_checkpoint(manifest)
        if state["matching"] in points:
            continue
        restore(run.tournament, run.dir, state, global_rng=False)
        digits = classify_channels(model, run.sample(SAMPLES, seed=1, panel=False))
        r = {**stacked_modes(digits), **digit_balance(digits)}
        points[state["matching"]] = {"matching": state["matching"], "rounds": state["matching"] * steps,
                                     "modes": r["modes"], "kl": r["kl"], "kl_digits": r["kl_digits"]}
        print(json.dumps(points[state["matching"]]), flush=True)
        cache.write_text(json.dumps(sorted(points.values(), key=lambda p: p["matching"]), indent=1))
    return sorted(points.values(), key=lambda p: p["matching"])


def plot(series: list[tuple[str, list[dict]]], title: str, png: Path) -> None:
    """Modes and KL against rounds, one line per ``(label, points)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for label, points in series:
        rounds = [p["rounds"] for p in points]
        axes[0].plot(rounds, [p["modes"] for p in points], "-o", ms=3, label=label)
        axes[1].plot(rounds, [p["kl"] for p in points], "-o", ms=3, label=label)
    axes[0].axhline(667.4, color="grey", ls=":", lw=1, label="PacGAN Table 3, PacDCGAN4 (500k iterations, batch 128)")
    axes[0].set_ylim(0, 1000)
    axes[0].set_title("modes of 1,000 (25,600 samples)", fontsize=9)
    axes[0].legend(fontsize=7)
    axes[1].axhline(1.81, color="grey", ls=":", lw=1)
    axes[1].set_title("KL to the uniform triples (nats)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("rounds (discriminator updates)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=100_000)
    p.add_argument("--every", type=int, default=5_000, help="rounds between checkpoints (the curve's points)")
    p.add_argument("--out", type=Path, help="the run (default runs/curve/CONFIG-sSEED)")
    p.add_argument("--png", type=Path, help="the figure (default benchmarks/CONFIG_curve.png)")
    p.add_argument("--plot", action="store_true", help="only measure the checkpoints there are and draw")
    p.add_argument("--label", default="", help="this run's line in the figure (default: the config's name)")
    p.add_argument("--also", nargs=2, action="append", default=[], metavar=("RUN", "LABEL"),
                   help="another run's checkpoints drawn beside it (measured and cached the same way)")
    args = p.parse_args()
    stem = args.config.stem.removeprefix("stacked_mnist_")
    out = args.out or ROOT / "runs" / "curve" / f"{stem}-s{args.seed}"
    if not args.plot:
        started = time.perf_counter()
        run = train(args.config, args.seed, args.rounds, args.every, out)
        print(f"trained to matching {run.completed} in {time.perf_counter() - started:.0f} s", flush=True)
    series = [(args.label or args.config.name, measure(out))] + [(label, measure(Path(run))) for run, label in args.also]
    for label, points in series:
        print(f"\n{label}\n\n| rounds | modes | KL | kl_digits |\n| ---: | ---: | ---: | ---: |")
        for q in points:
            print(f"| {q['rounds']:,} | {q['modes']} | {q['kl']:.3f} | {q['kl_digits']:.3f} |")
    plot(series, f"seed {args.seed}: learning curves on Stacked MNIST (CPU, 25,600 samples)",
         args.png or ROOT / "benchmarks" / f"{stem}_curve.png")


if __name__ == "__main__":
    main()
