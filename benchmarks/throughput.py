"""Rounds per second of the arena's round loop, beside a plain hand-written PyTorch loop.

Prints one table. Each row is measured side by side in this process (arena and plain
interleaved, several repeats, median), so the ratio is meaningful on a shared, noisy machine.

    python benchmarks/throughput.py                    # configs/pytorch_gan.yaml vs plain, batch 64 and 256
    python benchmarks/throughput.py --config configs/classic_gan.yaml --batch 100
    python benchmarks/throughput.py --rounds 200 --repeats 5 --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arena.arena import build_arena
from arena.config import load_config
from arena.match import play_match


def plain_pytorch_gan(device: torch.device, data: torch.Tensor, batch: int):
    """The PyTorch-GAN reference model and optimizer, written out by hand (REFERENCE.md)."""

    def block(i, o, norm=True):
        layers = [nn.Linear(i, o)]
        if norm:
            layers.append(nn.BatchNorm1d(o, 0.8))
        layers.append(nn.LeakyReLU(0.2))
        return layers

    g = nn.Sequential(*block(100, 128, norm=False), *block(128, 256), *block(256, 512), *block(512, 1024),
                      nn.Linear(1024, 784), nn.Tanh()).to(device)
    d = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2),
                      nn.Linear(256, 1)).to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    flat = data.reshape(data.shape[0], -1)
    perm, pos = torch.randperm(flat.shape[0], device=device), 0

    def rounds(n: int) -> None:
        nonlocal perm, pos
        for _ in range(n):
            if pos + batch > perm.numel():
                perm, pos = torch.randperm(flat.shape[0], device=device), 0
            real = flat[perm[pos : pos + batch]]
            pos += batch
            # discriminator step on real and detached fake
            with torch.no_grad():
                fake = g(torch.randn(batch, 100, device=device))
            opt_d.zero_grad(set_to_none=True)
            loss_d = F.softplus(-d(real)).mean() + F.softplus(d(fake)).mean()
            loss_d.backward()
            opt_d.step()
            # generator step (non-saturating), D frozen
            for p in d.parameters():
                p.requires_grad_(False)
            opt_g.zero_grad(set_to_none=True)
            loss_g = F.softplus(-d(g(torch.randn(batch, 100, device=device)))).mean()
            loss_g.backward()
            opt_g.step()
            for p in d.parameters():
                p.requires_grad_(True)

    return rounds


def timed(fn, n: int, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn(n)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/pytorch_gan.yaml")
    p.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    p.add_argument("--rounds", type=int, default=100, help="rounds per timing")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    compare = Path(args.config).name == "pytorch_gan.yaml"

    rows = []
    for batch in args.batch:
        config = load_config(args.config, [f"schedule.batch_size={batch}", f"device={args.device}"])
        arena = build_arena(config)
        arena.seed_loop()
        g, d = arena.generators[0], arena.discriminators[0]

        def arena_rounds(n: int, arena=arena, g=g, d=d) -> None:
            play_match(arena.game, g, d, arena.stream, n)

        plain = plain_pytorch_gan(arena.device, arena.data.train, batch) if compare else None
        arena_rounds(10)  # warm-up
        if plain:
            plain(10)
        a, b = [], []
        for _ in range(args.repeats):
            a.append(timed(arena_rounds, args.rounds, arena.device))
            if plain:
                b.append(timed(plain, args.rounds, arena.device))
        ra = statistics.median(a)
        rb = statistics.median(b) if b else float("nan")
        rows.append((Path(args.config).name, batch, str(arena.device), ra, rb, ra / rb if b else float("nan")))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.rounds} rounds x {args.repeats} repeats (median)")
    print(f"{'config':<20} {'batch':>5} {'device':>6} {'arena rounds/s':>15} {'plain rounds/s':>15} {'ratio':>6}")
    for name, batch, dev, ra, rb, ratio in rows:
        print(f"{name:<20} {batch:>5} {dev:>6} {ra:>15.1f} {rb:>15.1f} {ratio:>6.2f}")


if __name__ == "__main__":
    main()
