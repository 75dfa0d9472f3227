"""Golden runs: short runs of every shipped config, fingerprinted, so that a refactor can prove
that the numbers did not move.

``python -m tests.golden`` records ``tests/golden_runs.json``; ``tests/test_golden_runs.py``
runs the same configs and compares. A fingerprint holds the metrics log with its wall-clock
fields removed, ``results.json``, ``lineage.json``, ``mixture.json`` and ``leaderboard.json``
as their exact text, and a SHA-256 of every agent's final weights, buffers and optimizer
state. Bit identity is only defined on one platform (torch build, CPU instruction set and model, one
thread), so the file keeps one set of fingerprints per platform it was recorded on; a test run
elsewhere compares the numbers within a tolerance.

``python -m tests.golden``: the numbers moved (a change meant to move them): record every
config here, and forget every other platform's records.
``python -m tests.golden NAME ...``: record these configs here, forget other platforms' records
of them (they are stale), keep everything else.
``python -m tests.golden --add-platform [NAME ...]``: record every config (or these) on this
platform beside the others' records: the code did not move, the machine did, or these configs were
just recorded on another platform (``make golden`` records the configs here and then at
:data:`SECOND_LEVEL`, which CI checks exactly too).

Elsewhere than on a recorded platform, nothing makes a run bit-identical, and nothing bounds how
far it drifts once a review counts samples: one logit that rounds across the threshold moves a
payoff by one sample, and the selections, ratings and mixture weights that read it may then part
entirely (six configs fell outside a 0.1 % tolerance at the second kernel level). So there
``tests/test_golden_runs.py`` compares the structure of every record and file (the same lines,
kinds, keys and shapes) and the values of the training records before the first review, which
depend on the weights continuously (float32 rounding moves them by about 1e-6 relative; 1e-3 is
allowed).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden_runs.json"
WALL_CLOCK = ("wall", "rounds_per_s", "elapsed", "time")
FILES = ("results.json", "lineage.json", "mixture.json", "leaderboard.json")

# Tiny budgets: a few matchings, an evaluation, a selection and a checkpoint in each.
COMMON = [
    "device=cpu",
    "schedule.matchings=4",
    "schedule.steps_per_match=5",
    "log.every=1",
    "review.every=2",
    "review.samples=300",
    "checkpoint.every=2",
    "log.report=false",  # the report draws, it computes nothing: tests/arena/report builds it for every kind of data
]
PANEL = ["panel.refine.steps=4", "panel.calibration=500", "panel.max_candidates=5"]
"""Every stage of the grid25 panel, on a budget: an untrained generator's candidates are nearly all
rejected, and with the shipped settings the panel would refine 15,000 of them 80 steps each."""
STACKED = ["data.train_size=256", "data.test_size=512", "review.samples=120"]
"""Stacked MNIST on a budget: every review classifies each generator's samples digit by digit."""
STACKED_OUTPUT = ["agents.0.ema.batchnorm_batches=2", "panel.calibration=500"]
"""The tournament's output on a budget: EMA's BatchNorm statistics from 2 batches (not 20) of
DCGAN samples, a panel calibrated on 500 candidates (not 5,000)."""
IMAGES = ["schedule.batch_size=16", "review.samples=64", "agents.0.net.widths=[64,32,16,8]",
          "agents.1.net.widths=[8,16,32,64]"]
"""DCGAN at 64 x 64 on a budget: its layers an eighth as wide (the same code path: four stride-2
transposed convolutions to 64 x 64), batches of 16, reviews of 64 samples; its folder is made by
:func:`image_folder` (``data.root``)."""
EXTRA = {
    "images_dcgan64": [*IMAGES],
    "tournament_ring8": ["data.train_size=5000", "selection.every=2"],
    "tournament_grid25": ["data.train_size=5000", "selection.every=2", *PANEL],
    "lipizzaner_grid": ["data.train_size=5000", "selection.every=2"],
    "gman": ["data.train_size=5000"],
    "madgan": ["data.train_size=5000"],
    "ring8": ["data.train_size=5000"],
    "grid25": ["data.train_size=5000"],
    "pair_grid25": ["data.train_size=5000", *PANEL],
    "stacked_mnist": [*STACKED],
    "stacked_mnist_pacgan4": [*STACKED],
    "stacked_mnist_tournament": [*STACKED, *STACKED_OUTPUT],
    "stacked_mnist_rotation": [*STACKED, *STACKED_OUTPUT],
    "stacked_mnist_population": [*STACKED, "agents.0.ema.batchnorm_batches=2", "selection.every=2"],
    "stacked_mnist_gman": [*STACKED, "agents.0.ema.batchnorm_batches=2"],
    "stacked_mnist_family": [*STACKED, "agents.0.ema.batchnorm_batches=2"],
    "stacked_mnist_tournament_gpu": [*STACKED, "agents.0.count=2", "agents.1.count=2", "schedule.batch_size=32",
                                     "panel.calibration=200", "agents.0.ema.batchnorm_batches=2"],
}


def cpu_model() -> str:
    """The processor's model name: numpy's BLAS picks its kernels by it (an AMD EPYC and an Intel
    Xeon, both AVX512, fit the held-out mixture weights to different last digits)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


SECOND_LEVEL = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}
"""The second kernel level CI also runs the equivalence and golden tests at (``make test-kernels``):
ATen's kernels without vector instructions and oneDNN's convolutions capped at SSE4.1. Of the
levels tried on an AVX2 AMD EPYC it moved the most digits: six of the 23 golden runs fell outside
the old cross-platform tolerance there, against none at AVX2 or AVX-512."""


def platform_key() -> dict[str, str]:
    cap = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "unknown")()
    key = {"torch": torch.__version__, "cpu_capability": str(cap), "machine": platform.machine(), "cpu": cpu_model()}
    if os.environ.get("ONEDNN_MAX_CPU_ISA"):  # oneDNN's convolutions capped: other kernels, other digits
        key["onednn_max_cpu_isa"] = os.environ["ONEDNN_MAX_CPU_ISA"].upper()
    return key


FOLDER = {"images_dcgan64"}
"""The configs that read a folder of the user's images: the golden runs give them :func:`image_folder`."""


def image_folder(n: int = 48) -> Path:
    """A folder of ``n`` generated images (benchmarks/image_folder.py: the same pixels every
    time), made once per machine in the temporary folder (atomically: test processes share it)."""
    import shutil
    import tempfile

    from benchmarks.image_folder import make_folder

    path = Path(tempfile.gettempdir()) / f"gan-arena-golden-images-{n}"
    if not (path / ".complete").exists():
        tmp = Path(tempfile.mkdtemp(prefix="gan-arena-golden-images-"))
        make_folder(tmp, n)
        (tmp / ".complete").write_text("")
        try:
            os.rename(tmp, path)
        except OSError:  # another process made it first
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def overrides(name: str) -> list[str]:
    folder = [f"data.root={image_folder()}"] if name in FOLDER else []
    return [*COMMON, *EXTRA.get(name, []), *folder]


def _tensor_bytes(t: torch.Tensor) -> bytes:
    buf = io.BytesIO()
    t = t.detach().cpu().contiguous()
    buf.write(str((tuple(t.shape), str(t.dtype))).encode())
    buf.write(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return buf.getvalue()


def _hash_state(obj: Any, h: Any) -> None:
    """Feed a nested state (dicts in key order, lists, tensors, numbers) into ``h``."""
    if isinstance(obj, torch.Tensor):
        h.update(_tensor_bytes(obj))
    elif isinstance(obj, dict):
        for key in sorted(obj, key=str):
            h.update(str(key).encode())
            _hash_state(obj[key], h)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _hash_state(item, h)
    else:
        h.update(repr(obj).encode())


def weights_digest(agents: dict[str, Any]) -> dict[str, str]:
    """Per agent: SHA-256 of its network state and of its optimizer's per-parameter state."""
    out = {}
    for name, state in sorted(agents.items()):
        h = hashlib.sha256()
        _hash_state(state["net"], h)
        optim = state["optim"]
        inner = optim.get("optimizer", optim)
        _hash_state(inner.get("state", {}), h)
        _hash_state([{k: v for k, v in g.items() if k != "params"} for g in inner.get("param_groups", [])], h)
        out[name] = h.hexdigest()
    return out


def final_agent_states(run_dir: Path) -> dict[str, Any]:
    ckpts = sorted((run_dir / "checkpoints").glob("ckpt-*.pt"))
    state = torch.load(ckpts[-1], map_location="cpu", weights_only=True)
    return state["agents"]


def fingerprint(run_dir: Path) -> dict[str, Any]:
    lines = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        for key in WALL_CLOCK:
            record.pop(key, None)
        lines.append(json.dumps(record, sort_keys=True))
    files = {name: (run_dir / name).read_text() if (run_dir / name).is_file() else None for name in FILES}
    return {"metrics": lines, "files": files, "weights": weights_digest(final_agent_states(run_dir))}


def run_one(name: str, out: Path) -> dict[str, Any]:
    """Run ``configs/<name>.yaml`` on the tiny budget into ``out`` (one thread) and fingerprint it."""
    from arena.cli import main

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        args = ["run", str(ROOT / "configs" / f"{name}.yaml"), "--out", str(out), "--quiet"]
        for o in overrides(name):
            args += ["--set", o]
        code = main(args)
    finally:
        torch.set_num_threads(threads)
    if code != 0:
        raise RuntimeError(f"{name}: arena run exited with {code}")
    return fingerprint(out)


def shipped() -> list[str]:
    return sorted(p.stem for p in (ROOT / "configs").glob("*.yaml"))


def load() -> dict[str, Any]:
    """The recorded fingerprints: ``{"platforms": [{"platform": {...}, "runs": {name: fingerprint}}]}``."""
    if not GOLDEN.is_file():
        return {"platforms": []}
    data = json.loads(GOLDEN.read_text())
    if "platforms" not in data:  # the first format: one platform
        data = {"platforms": [data]}
    return data


def runs_here(data: dict[str, Any]) -> dict[str, Any] | None:
    """The fingerprints recorded on this platform, or None."""
    for entry in data["platforms"]:
        if entry["platform"] == platform_key():
            return entry["runs"]
    return None


def runs_anywhere(data: dict[str, Any]) -> dict[str, Any]:
    """For every recorded config, a fingerprint: this platform's where there is one, else another's."""
    out: dict[str, Any] = {}
    for entry in data["platforms"]:
        for name, fp in entry["runs"].items():
            out.setdefault(name, fp)
    here = runs_here(data) or {}
    return {**out, **here}


def record(names: list[str] | None = None, add_platform: bool = False) -> None:
    import tempfile

    pinned = [v for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS") if v in os.environ]
    if pinned:  # numpy's BLAS threads (the held-out mixture weights' fit) move the last digits
        raise SystemExit(f"unset {', '.join(pinned)}: the tests (and CI) run without it, and it changes the last digits "
                         f"of numbers computed by numpy")
    data = load()
    todo = names or shipped()
    if names and not add_platform:  # other platforms' records of these configs are stale
        for entry in data["platforms"]:
            if entry["platform"] != platform_key():
                for name in names:
                    entry["runs"].pop(name, None)
    elif not add_platform:  # the numbers moved everywhere
        data["platforms"] = []
    data["platforms"] = [e for e in data["platforms"] if e["runs"] or e["platform"] == platform_key()]
    here = runs_here(data)
    if here is None:
        here = {}
        data["platforms"].append({"platform": platform_key(), "runs": here})
    with tempfile.TemporaryDirectory() as tmp:
        for name in todo:
            print(f"recording {name}", file=sys.stderr)
            here[name] = run_one(name, Path(tmp) / name)
    GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} ({len(todo)} config(s) on {platform_key()})", file=sys.stderr)


if __name__ == "__main__":
    argv = sys.argv[1:]
    add = "--add-platform" in argv
    record([a for a in argv if a != "--add-platform"] or None, add_platform=add)
