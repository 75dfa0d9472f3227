"""Inception FID and KID as papers report them, on request (``arena eval --metrics fid_inception,kid_inception``).

**The implementation.** The features are torch-fidelity's ``FeatureExtractorInceptionV3``
(``inception-v3-compat``, the 2,048-d pool3 layer): the TensorFlow Inception graph of
2015-12-05 that Heusel et al.'s original FID code uses, ported to PyTorch together with
TensorFlow 1.x's bilinear resize to 299 x 299. Resizing is where implementations disagree
(pytorch-fid resizes with PyTorch's bilinear interpolation, clean-fid with PIL's bicubic as its
own protocol); torch-fidelity reproduces the original TensorFlow numbers, and torchmetrics uses the
same extractor. The statistics are computed here in float64: the Frechet distance
(:func:`arena.evaluation.features.frechet_distance`, checked against scipy's ``sqrtm`` in the
tests) and KID as torch-fidelity defines it (unbiased MMD^2 with the kernel
``(x.y / d + 1)^3`` over 100 subsets of 1,000). torch-fidelity is an optional dependency
(``pip install 'gan-arena[fid]'``; it needs a torchvision that matches the installed torch).

**The weights** (``weights-inception-2015-12-05-6726825d.pth``, 91 MB) are never fetched unless
asked: ``arena eval --download`` fetches them into ``~/.cache/gan-arena/inception`` (or
``$GAN_ARENA_CACHE``), checking the SHA-256 prefix in their name. Without a network, copy the file
there, or name it with the config key ``review.inception_weights`` or the environment variable
``GAN_ARENA_INCEPTION_WEIGHTS``. The file is first read with ``weights_only=True``, so a file that
holds anything but tensors is refused before torch-fidelity loads it, and its full SHA-256 goes
into the protocol stamp.

**The protocol.** Images are scaled from the data's range to 0-255 and rounded to 8 bits (grey
images repeated to three channels), as images saved to disk would be. The reference is the
held-out (``test``) split, all of it, where it holds more images than there are features;
otherwise the training split (the stamp says which). FID needs more samples than features for a
full-rank covariance and is biased upward at small N: ``arena eval`` draws 10,000 by default
here (50,000 is the common protocol for CIFAR-10). The reference features are cached per data
set and weights. The stamp names the implementation, the extractor, the weights' checksum, the
reference split and its size, and ``arena compare`` refuses to mix stamps.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from arena.core.errors import ArenaError, ConfigError
from arena.core.files import cache_dir, save_to_cache

__all__ = ["WEIGHTS_URL", "WEIGHTS_FILE", "WEIGHTS_ENV", "Extractor", "weights_path", "extractor", "to_uint8_rgb",
           "extract", "reference_features", "kernel_distance", "kernel_distance_subset"]

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + WEIGHTS_FILE
HASH_PREFIX = "6726825d"
"""The start of the weights' SHA-256, as their name carries it (torch.hub's convention)."""
WEIGHTS_ENV = "GAN_ARENA_INCEPTION_WEIGHTS"
BATCH = 50
"""Images per forward pass of the extractor."""


def _how_to_get() -> str:
    return (f"pass --download to fetch {WEIGHTS_FILE} from {WEIGHTS_URL}, or put that file in {cache_dir('inception')}, "
            f"or name it with ${WEIGHTS_ENV} or the config key review.inception_weights")


def _fetch(target: Path) -> None:
    """Download the weights into ``target``, checking their SHA-256 prefix; only ever called when
    the user asked for it."""
    import sys

    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_suffix(".part")
    print(f"downloading {WEIGHTS_URL} -> {target}", file=sys.stderr)
    try:
        torch.hub.download_url_to_file(WEIGHTS_URL, str(part), hash_prefix=HASH_PREFIX, progress=False)
    except (OSError, RuntimeError) as exc:  # no network (URLError is an OSError), or a checksum mismatch
        part.unlink(missing_ok=True)
        raise ArenaError(f"download of {WEIGHTS_URL} failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}; "
                         f"put {WEIGHTS_FILE} in {cache_dir('inception')} or name it with ${WEIGHTS_ENV}") from None
    part.replace(target)


def weights_path(configured: str | None = None, download: bool = False) -> Path:
    """The Inception weights file: ``configured`` (the config key), else ``$GAN_ARENA_INCEPTION_WEIGHTS``,
    else the cache, fetched there only where ``download`` is set.

    Raises:
        ArenaError: the named file is missing, or the cache lacks it and ``download`` is off (one line
            saying how to get it).
    """
    named = configured or os.environ.get(WEIGHTS_ENV)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            source = "review.inception_weights" if configured else f"${WEIGHTS_ENV}"
            raise ArenaError(f"{source} names {path}, which is not a file; {_how_to_get()}")
        return path
    path = cache_dir("inception") / WEIGHTS_FILE
    if not path.is_file():
        if not download:
            raise ArenaError(f"the Inception weights are not here: {_how_to_get()}")
        _fetch(path)
    return path


class Extractor:
    """A feature extractor: ``(N, 3, H, W)`` uint8 images -> ``(N, dim)`` features, and the name the
    protocol stamps (implementation, layer, the weights' checksum)."""

    def __init__(self, module: Callable[[torch.Tensor], Any], dim: int, name: str) -> None:
        self.module, self.dim, self.name = module, dim, name

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        out = self.module(images)
        return (out[0] if isinstance(out, tuple) else out).double()


@contextlib.contextmanager
def _weights_only() -> Iterator[None]:
    """Force ``torch.load(weights_only=True)`` inside (torch-fidelity loads its file with ``weights_only=False``)."""
    key = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"
    old = os.environ.get(key)
    os.environ[key] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def _torch_fidelity(path: Path, sha: str) -> Extractor:
    """torch-fidelity's Inception (pool3, 2,048 features) with the weights at ``path``."""
    try:
        import torch_fidelity
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except Exception as exc:  # not installed, or a torchvision built for another torch fails at import
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArenaError(f"fid_inception and kid_inception need torch-fidelity and a torchvision matching torch "
                         f"{torch.__version__}: pip install 'gan-arena[fid]' ({type(exc).__name__}: {cause})") from None
    with _weights_only():
        module = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))
    name = f"torch-fidelity {torch_fidelity.__version__} inception-v3-compat pool3 2048, weights sha256:{sha}"
    return Extractor(module, 2048, name)


def extractor(configured: str | None = None, download: bool = False, device: torch.device | str = "cpu") -> Extractor:
    """The Inception extractor with verified weights (:func:`weights_path`), on ``device``.

    Raises:
        ArenaError: no weights (how to get them), weights that are not the published ones or not a
            plain tensor file, or torch-fidelity missing.
    """
    path = weights_path(configured, download)
    payload = path.read_bytes()  # read once for the checksum and the check; torch-fidelity reads the file itself
    sha = hashlib.sha256(payload).hexdigest()
    if not sha.startswith(HASH_PREFIX):
        raise ArenaError(f"{path}: its SHA-256 starts {sha[:8]}, not {HASH_PREFIX}: not the published Inception weights "
                         f"(numbers measured with them would not compare with a paper's)")
    try:
        torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ArenaError(f"{path}: not a plain file of tensors ({type(exc).__name__}); refused") from None
    made = _build(path, sha)
    if isinstance(made.module, torch.nn.Module):
        made.module.to(device)
    return made


_build: Callable[[Path, str], Extractor] = _torch_fidelity
"""What :func:`extractor` builds from verified weights (a test puts a small stand-in here)."""


def to_uint8_rgb(x: torch.Tensor, shape: tuple[int, ...], low: float | None, high: float | None) -> torch.Tensor:
    """Samples of the data's ``shape`` ``(C, H, W)`` in ``[low, high]`` -> ``(N, 3, H, W)`` uint8,
    rounded as an 8-bit image file would hold them (grey repeated to three channels).

    Raises:
        ConfigError: not images of one or three channels, or data without a bounded range.
    """
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise ConfigError(f"Inception metrics read images of 1 or 3 channels, not data of shape {shape}")
    if low is None or high is None or not high > low:
        raise ConfigError("Inception metrics need images with a bounded range of pixel values")
    x = x.reshape(-1, *shape).float()
    x = ((x - low) / (high - low)).clamp(0, 1).mul(255).round().to(torch.uint8)
    return x.expand(-1, 3, -1, -1).contiguous() if shape[0] == 1 else x


def extract(model: Extractor, images: torch.Tensor, device: torch.device | str = "cpu",
            progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Features of uint8 ``images`` in batches of :data:`BATCH`, float64 on the CPU."""
    out = []
    with torch.no_grad():
        for i in range(0, images.shape[0], BATCH):
            out.append(model(images[i : i + BATCH].to(device)).cpu())
            if progress is not None:
                progress(min(i + BATCH, images.shape[0]), images.shape[0])
    return torch.cat(out)


def reference_features(model: Extractor, data: Any, device: torch.device | str = "cpu",
                       progress: Callable[[int, int], None] | None = None, cache: bool = True) -> tuple[torch.Tensor, str]:
    """The real images' features and the split they come from: the held-out split where it holds
    more images than ``model.dim``, else the training split; cached on disk per data, split and
    extractor."""
    split = "test" if data.test.shape[0] > model.dim else "train"
    real = data.splits[split]
    if real.shape[0] <= model.dim:
        raise ConfigError(f"{data.name}: its largest split has {real.shape[0]:,} images; FID needs more than the "
                          f"{model.dim:,} features")
    h = hashlib.sha256()
    h.update(f"{data.name}|{split}|{tuple(real.shape)}|{model.name}".encode())
    h.update(real[:: max(1, real.shape[0] // 512)].float().cpu().numpy().tobytes())
    path = cache_dir("inception") / f"reference-{h.hexdigest()[:16]}.pt"
    if cache and path.is_file():
        return torch.load(path, map_location="cpu", weights_only=True).double(), split
    feats = extract(model, to_uint8_rgb(real, data.shape, data.low, data.high), device, progress)
    if cache:
        save_to_cache(path, feats.float())
    return feats, split


def kernel_distance_subset(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD^2 between two equal-sized feature sets with the kernel ``(a.b / d + 1)^3``."""
    m, d = x.shape[0], x.shape[1]
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / (m * m))


def kernel_distance(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
                    seed: int = 0) -> tuple[float, float]:
    """KID as torch-fidelity computes it: the unbiased MMD^2 of ``subsets`` random subsets of
    ``subset_size`` (at most the smaller set) from each side, drawn without replacement; mean and
    standard deviation over the subsets."""
    n = min(subset_size, real.shape[0], fake.shape[0])
    if n < 2:
        raise ConfigError("KID needs at least 2 samples on each side")
    g = torch.Generator().manual_seed(seed)
    values = torch.tensor([
        kernel_distance_subset(real[torch.randperm(real.shape[0], generator=g)[:n]].double(),
                               fake[torch.randperm(fake.shape[0], generator=g)[:n]].double())
        for _ in range(subsets)], dtype=torch.float64)
    return float(values.mean()), float(values.std(unbiased=False))
