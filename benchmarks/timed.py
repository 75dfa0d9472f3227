"""Train a config for a fixed number of seconds, then judge its output on Stacked MNIST.

A GPU is lent for minutes, not hours: this plays the config's schedule until ``--seconds`` have
passed (the loop stops at the next matching, with a checkpoint, as a Ctrl-C does), then measures
the raw mixture, the output and every generator on 25,600 samples with the shipped digit
classifier, and prints one JSON line per measurement and a summary.

    python benchmarks/timed.py configs/stacked_mnist_tournament_gpu.yaml --seconds 360 --out runs/gpu
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


class Deadline(arena.Callback):
    """Asks the loop to stop (as the first Ctrl-C does) once ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.started = seconds, time.perf_counter()

    def on_match_end(self, tournament, outcome, rounds_done, rounds_total) -> None:
        if time.perf_counter() - self.started > self.seconds and not tournament.stop_requested:
            print(f"deadline: stopping after matching {tournament.completed + 1}", flush=True)
            tournament.request_stop()


class Progress(arena.Callback):
    """One line per review: the output's modes and KL at review size."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def on_review(self, tournament, review) -> None:
        m = review.output.metrics if review.output else {}
        print(f"{time.perf_counter() - self.started:7.1f} s  matching {review.matching}  pair-rounds {review.rounds:,}  "
              f"mixture modes {m.get('modes')} kl {m.get('kl')}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config")
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--device", default=None)
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("-n", type=int, default=25_600)
    args = p.parse_args()
    started = time.perf_counter()
    run = arena.run(args.config, out=args.out, device=args.device, overrides=args.overrides,
                    callbacks=[Deadline(args.seconds), Progress()])
    trained = time.perf_counter() - started
    print(f"trained {trained:.0f} s: {run.completed} matchings, {run.rounds:,} pair-rounds on {run.arena.device}", flush=True)
    if run.output is None or run.output.matching != run.completed:  # stopped between reviews: review now
        run.tournament.review()
    results = {}
    for label, agent, panel in (("raw mixture", "mixture", False), ("output", "mixture", True), ("generators", None, True)):
        results[label] = run.evaluate(agent, ["stacked_modes"], args.n, seed=0, save=False, panel=panel)
        for name, r in results[label].items():
            print(json.dumps({"measured": label, "agent": name, "modes": r["modes"], "kl": r["kl"], "samples": r["samples"],
                              "classifier": r["protocol"].get("classifier"), "pair_rounds": run.rounds,
                              "train_s": round(trained)}), flush=True)
    gens = results["generators"].values()
    print(f"summary: raw mixture {results['raw mixture']['mixture']['modes']} modes / KL "
          f"{results['raw mixture']['mixture']['kl']:.3f}; output {results['output']['mixture']['modes']} / "
          f"{results['output']['mixture']['kl']:.3f}; generators {sorted(g['modes'] for g in gens)}")


if __name__ == "__main__":
    main()
