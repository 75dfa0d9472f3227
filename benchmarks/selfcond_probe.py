"""A probe, outside the product: a family whose members each answer for one cluster of the real data
(self-conditioning, after Liu et al. 2020, "Diverse image generation via self-conditioned GANs").

The real data are clustered once with k-means (no labels: pixels, or 4 x 4 average-pooled pixels),
and every one of GMAN's four discriminators judges member ``k``'s samples and cluster ``k``'s real
images with the logit ``l_0 + l_k`` (its "real" output plus one per member: the outputs the identity
signal gives it). The mixture draws member ``k`` with cluster ``k``'s share of the data. Otherwise
the GMAN family config's recipe: 4,800 rounds, the four discriminators updated once each a round
(19,200 updates), the mode-seeking term, EMA. It is a hand-written loop (the discriminators not
stacked, so it runs about twice as slow as the config), written to learn whether members held to
clusters divide the modes well enough to be worth building into the games; the result is in
benchmarks/RESULTS.md (2026-12-08).

    OMP_NUM_THREADS=1 python benchmarks/selfcond_probe.py --k 4 --seed 0
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import arena  # noqa: E402
from agents.family import FamilyMember, member_ids  # noqa: E402
from arena.evaluation.digits import classify_channels, digit_balance, digit_classifier, stacked_modes  # noqa: E402
from games.base import all_frozen, mode_seeking_penalty  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--k", type=int, default=4)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--steps", type=int, default=4800)
p.add_argument("--space", default="pixels", choices=["pixels", "pool"])
p.add_argument("--out", default=str(ROOT / "runs" / "selfcond" / "sc"))
a = p.parse_args()
torch.manual_seed(a.seed)
run = arena.Run.create(ROOT / "configs" / "stacked_mnist_family.yaml", out=f"{a.out}-k{a.k}-s{a.seed}",
                       overrides=[f"seed={a.seed}", f"agents.0.members={a.k}", "game.identity=0.03"])
G, Ds = run.arena.generators[0], run.arena.discriminators
K = a.k
for agent in (G, *Ds):
    agent.train()
stream = run.arena.stream.fork(0)
pool = torch.cat([stream() for _ in range(160)])  # 10,240 real images


def feats(x):
    return x.flatten(1) if a.space == "pixels" else F.avg_pool2d(x, 4).flatten(1)


X = feats(pool)
g = torch.Generator().manual_seed(a.seed)
C = X[torch.randperm(len(X), generator=g)[:K]].clone()
for _ in range(50):  # k-means (Lloyd)
    lab = torch.cdist(X, C).argmin(1)
    for k in range(K):
        if (lab == k).any():
            C[k] = X[lab == k].mean(0)
lab = torch.cdist(X, C).argmin(1)
shares = torch.bincount(lab, minlength=K).float() / len(X)
print("cluster shares", [round(s, 3) for s in shares.tolist()], flush=True)

ms, pool_ = run.arena.game.mode_seeking, run.arena.game.mode_seeking_pool
t0 = time.time()
for step in range(a.steps):
    real = stream()
    c = torch.cdist(feats(real), C).argmin(1)
    n = real.shape[0]
    m = member_ids(n, K)
    with torch.no_grad():
        fake = G.sample(n)
    for d in Ds:
        d.zero_grad()
        lr, lf = d(real), d(fake)
        rl = lr[:, 0] + lr.gather(1, 1 + c[:, None])[:, 0]
        fl = lf[:, 0] + lf.gather(1, 1 + m[:, None])[:, 0]
        loss = F.softplus(-rl).mean() + F.softplus(fl).mean()
        loss.backward()
        d.step()
    with all_frozen(Ds):
        G.zero_grad()
        fake = G.sample(n)
        losses = []
        for d in Ds:
            lf = d(fake)
            fl = lf[:, 0] + lf.gather(1, 1 + m[:, None])[:, 0]
            losses.append(F.softplus(-fl).mean())
        loss = torch.stack(losses).mean() + ms * mode_seeking_penalty(fake, pool_)
        loss.backward()
        G.step()
    if step % 400 == 0:
        print(step, round(time.time() - t0), float(loss.detach()), flush=True)
print("trained", round(time.time() - t0), flush=True)

model, _, _ = digit_classifier(run.arena.data.kind.digits())
N = 25_600
gen = torch.Generator().manual_seed(1)
per = {}
with torch.no_grad():
    members = [FamilyMember(G, k, f"g_{k}").output() for k in range(K)]
    dig = [classify_channels(model, members[k].sample(N, gen)) for k in range(K)]
for k in range(K):
    r = stacked_modes(dig[k])
    per[k] = (r["modes"], round(r["kl"], 3))


def mix(w):
    counts = (w * N).round().long()
    d = torch.cat([dig[k][: counts[k]] for k in range(K)])
    r = {**stacked_modes(d), **digit_balance(d)}
    return r["modes"], round(r["kl"], 3), round(r["kl_digits"], 3)


res = {"k": K, "seed": a.seed, "space": a.space, "shares": shares.tolist(), "members": per,
       "mix_shares": mix(shares), "mix_uniform": mix(torch.full((K,), 1 / K))}
print(json.dumps(res), flush=True)
