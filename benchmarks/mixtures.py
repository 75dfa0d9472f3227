"""Where a Stacked MNIST mixture's KL comes from, measured after the fact on finished runs (no
training): would mixing more generators even out the digits one generator draws unevenly?

Three questions, each on 25,600 samples judged by the shipped classifier (which trains, chooses
and weights nothing here but the ``ceiling`` row, a diagnosis that no product path uses):

- ``snapshots RUN``: one generator's checkpoints (its EMA average at each) alone, and the
  uniform mixture of the last k of them: a mixture over training time. Run with
  ``--set checkpoint.every=4 --set checkpoint.keep_last=12`` to have them.
- ``weights RUN``: a run's members under other weightings: the stored one, held-out MMD in the
  discriminators' features (the shipped ``heldout``), the same in pixel space, uniform, and the
  weights that minimise the triple histogram's KL (the ceiling of any weighting of these members).
- ``cross RUN RUN ...``: the uniform mixture of the outputs of independent runs (other seeds,
  each with its full budget).

    python benchmarks/mixtures.py snapshots runs/snap/gman-s0
    python benchmarks/mixtures.py weights runs/population/family-2-s0-pairs
    python benchmarks/mixtures.py cross runs/population/family-1-s0-pairs runs/population/family-1-s1-pairs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import arena  # noqa: E402
from arena.api import restore  # noqa: E402
from arena.evaluation.digits import classify_channels, digit_balance, digit_classifier, stacked_modes, triple_counts  # noqa: E402

N = 25_600


def judged(digits: torch.Tensor) -> str:
    r = {**stacked_modes(digits), **digit_balance(digits)}
    return (f"modes {r['modes']}, KL {r['kl']:.3f} (kl_digits {r['kl_digits']:.3f}); most drawn {r['most_drawn']} "
            f"({r['most_drawn_share']:.3f}), least {r['least_drawn']} ({r['least_drawn_share']:.3f})")


def snapshots(run_dir: Path) -> None:
    run = arena.load(run_dir)
    model, _, _ = digit_classifier(run.arena.data.kind.digits())
    digits = {}
    for manifest in run.dir.checkpoints():
        state = run.dir.load_checkpoint(manifest)
        restore(run.tournament, run.dir, state, global_rng=False)
        digits[state["matching"]] = classify_channels(model, run.sample(N, seed=1))
        print(f"matching {state['matching']:3d} alone: {judged(digits[state['matching']])}", flush=True)
    ks = sorted(digits)
    for last in (2, 3, 4, 6, 8, 12):
        if last > len(ks):
            break
        chosen = ks[-last:]
        print(f"the last {last} ({chosen[0]}-{chosen[-1]}) mixed: "
              f"{judged(torch.cat([digits[k][: N // last] for k in chosen]))}", flush=True)


def weights(run_dir: Path, per: int = 1000) -> None:
    from arena.output.mixture import Candidates, fit_weights, heldout_weights
    from arena.tournament.crossplay import discriminator_features

    run = arena.load(run_dir)
    t, data = run.tournament, run.arena.data
    members = list(t.arena.judged)
    model, _, _ = digit_classifier(data.kind.digits())
    digits = {g.name: classify_channels(model, run.sample(N, g.name, seed=7, panel=False)) for g in members}
    review = {g.name: run.sample(per, g.name, seed=11, panel=False) for g in members}
    held = data.splits.get("valid", data.test)

    def candidates(features) -> Candidates:
        return Candidates(generators=members, ratings={}, samples=review, quality={}, kind=data.kind, payoff={},
                          heldout=held, features=features)

    stored = dict(zip(run.output.components, run.output.weights)) if run.output else {}
    shares = torch.stack([triple_counts(digits[g.name]) / N for g in members], dim=1)
    rows = {
        "stored": [stored.get(g.name, 0.0) for g in members],
        "heldout, discriminators' features": heldout_weights(candidates(discriminator_features(t.arena.discriminators)), per),
        "heldout, pixels": heldout_weights(candidates(lambda x: x.flatten(1).double()), per),
        "uniform": [1 / len(members)] * len(members),
        "ceiling (reads the digits: diagnosis only)": fit_weights(shares, torch.ones(1000)).tolist(),
    }
    for name, w in rows.items():
        counts = (torch.tensor(w, dtype=torch.float64) * N).round().long().tolist()
        mixed = torch.cat([digits[g.name][:c] for g, c in zip(members, counts)])
        print(f"{name}: weights {[round(x, 3) for x in w]}: {judged(mixed)}", flush=True)
    for g in members:
        print(f"  {g.name} alone: {judged(digits[g.name])}")


def cross(run_dirs: list[Path]) -> None:
    runs = [arena.load(p) for p in run_dirs]
    model, _, _ = digit_classifier(runs[0].arena.data.kind.digits())
    digits = []
    for run, path in zip(runs, run_dirs):
        agent = "mixture" if len(run.arena.judged) > 1 else None
        digits.append(classify_channels(model, run.sample(N, agent, seed=5, panel=False)))
        print(f"{path} alone: {judged(digits[-1])}", flush=True)
    for k in range(2, len(digits) + 1):
        print(f"the first {k} mixed: {judged(torch.cat([d[: N // k] for d in digits[:k]]))}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("question", choices=["snapshots", "weights", "cross"])
    p.add_argument("runs", nargs="+", type=Path)
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.question == "cross":
        cross(args.runs)
    else:
        for run_dir in args.runs:
            (snapshots if args.question == "snapshots" else weights)(run_dir)


if __name__ == "__main__":
    main()
