"""Your own images at scale: a synthetic folder of N images of varied sizes (random shapes and
colours, generated here, never downloaded), then what a user of ``configs/images_dcgan64.yaml``
waits for and pays:

- the first start (the decode into the cache) and the second (the cache opened), each a fresh
  ``arena check``-like build of the data in a child process, with its peak resident memory;
- the batches per second drawn from the cache (batch 128, floats on the device);
- the config's training round rate, and the peak resident memory of a short training run.

    python -m benchmarks.image_folder --n 200000            # the issue's figures (about 25 min on 2 cores)
    python -m benchmarks.image_folder --n 5000 --rounds 20  # a quick look

It prints a table; the folder and the cache go to --work (default benchmarks/runs/image_folder),
kept between runs (the folder is made once per N).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.children import child_env  # noqa: E402


def _draw(path: str, seed: int, lo: int, hi: int) -> None:
    """One image: a random background and a few random ellipses and rectangles, of a random size
    between ``lo`` and ``hi`` pixels a side (aspect included), as PNG or JPEG by ``path``."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    w, h = (int(v) for v in rng.integers(lo, hi + 1, 2))
    im = Image.new("RGB", (w, h), tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(1, 5))):
        x0, x1 = sorted(int(v) for v in rng.integers(0, w, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, h, 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1 + 1, y1 + 1), fill=colour)
    im.save(path, quality=90) if path.endswith(".jpg") else im.save(path)


def _draw_many(args: tuple[str, list[int], int, int]) -> None:
    folder, seeds, lo, hi = args
    for seed in seeds:
        sub = Path(folder) / f"{seed // 1000:04d}"
        sub.mkdir(exist_ok=True)
        _draw(str(sub / f"{seed:07d}.{'jpg' if seed % 2 else 'png'}"), seed, lo, hi)


def make_folder(folder: Path, n: int, lo: int = 40, hi: int = 120, workers: int | None = None) -> Path:
    """Write ``n`` generated images (half PNG, half JPEG; sides ``lo`` to ``hi``) under ``folder``
    in subfolders of 1,000; the same ``n`` gives the same pixels. Returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    seeds = list(range(n))
    if n < 2000:
        _draw_many((str(folder), seeds, lo, hi))
        return folder
    parts = [seeds[i:i + 1000] for i in range(0, n, 1000)]
    with ProcessPoolExecutor(workers or os.cpu_count()) as pool:
        list(pool.map(_draw_many, [(str(folder), p, lo, hi) for p in parts]))
    return folder


_OPEN = """
import json, resource, sys, time
started = time.perf_counter()
from arena.data.folder import images
data = images(0, sys.argv[1], size=(64, 64), channels=3, range="symmetric")
built = time.perf_counter() - started
import torch
stream = data.stream(128, 0)
for _ in range(5):
    stream.next()
t = time.perf_counter()
k = 0
while time.perf_counter() - t < 5.0:
    stream.next(); k += 1
rate = k / (time.perf_counter() - t)
print(json.dumps({"seconds": built, "images": data.info["files"], "skipped": len(data.info["skipped"]),
                  "batches_per_s": rate, "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))
"""


def _child(code: str, *args: str, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _train(folder: Path, out: Path, rounds: int, env: dict[str, str]) -> dict:
    """A short training run of configs/images_dcgan64.yaml on ``folder``: its round rate (from
    metrics.jsonl) and the process's peak resident memory."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    code = ("import resource, sys\nfrom arena.cli import main\ncode = main(sys.argv[1:])\n"
            "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6)\nsys.exit(code)")
    args = ["run", "images_dcgan64", "--out", str(out), "--quiet", "--set", f"data.root={folder}", "--set", "device=cpu",
            "--set", "schedule.matchings=2", "--set", f"schedule.steps_per_match={rounds}", "--set", "review.every=100",
            "--set", "review.samples=200", "--set", "log.every=1", "--set", "log.report=false"]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"training failed:\n{done.stderr[-3000:]}")
    peak = float(done.stdout.split("PEAK")[-1].split()[0])
    rates = [r["rounds_per_s"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
             if r.get("kind") == "train"]
    return {"rounds_per_s": rates[-1], "peak_rss_gb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="images in the folder (default 200,000)")
    parser.add_argument("--rounds", type=int, default=20, help="rounds of each of the two training matchings")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "runs" / "image_folder")
    args = parser.parse_args()
    folder = args.work / f"folder-{args.n}"
    if not (folder / ".complete").exists():
        t = time.perf_counter()
        make_folder(folder, args.n)
        (folder / ".complete").write_text("")
        print(f"made {args.n:,} images in {time.perf_counter() - t:.0f} s under {folder}", file=sys.stderr)
    cache = args.work / "cache"
    import shutil

    shutil.rmtree(cache, ignore_errors=True)
    env = child_env(GAN_ARENA_IMAGE_CACHE=str(cache))
    first = _child(_OPEN, str(folder), env=env)
    second = _child(_OPEN, str(folder), env=env)
    trained = _train(folder, args.work / "run", args.rounds, env)
    size = sum(p.stat().st_size for p in cache.rglob("pixels.u8")) / 1e9
    rows = [
        ("images decoded", f"{first['images']:,} ({first['skipped']} skipped)"),
        ("cache size", f"{size:.2f} GB"),
        ("first start (decode)", f"{first['seconds']:.1f} s, {first['images'] / first['seconds']:,.0f} images/s"),
        ("second start (cache)", f"{second['seconds']:.2f} s"),
        ("peak RSS, first / second start", f"{first['peak_rss_gb']:.2f} / {second['peak_rss_gb']:.2f} GB"),
        ("batches of 128 drawn a second", f"{second['batches_per_s']:,.0f}"),
        ("training rounds a second (images_dcgan64, CPU)", f"{trained['rounds_per_s']:.2f}"),
        ("drawing / training rate", f"{second['batches_per_s'] / trained['rounds_per_s']:,.0f}x"),
        ("peak RSS while training", f"{trained['peak_rss_gb']:.2f} GB ({trained['peak_rss_gb'] / size:.2f}x the cache)"),
    ]
    width = max(len(a) for a, _ in rows)
    print(f"\n{'measure':<{width}}  value\n{'-' * width}  -----")
    for a, b in rows:
        print(f"{a:<{width}}  {b}")


if __name__ == "__main__":
    main()
