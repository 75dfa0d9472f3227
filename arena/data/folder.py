"""A folder of the user's images, of any size: decoded once into a cache, read a batch at a time.

The first start decodes every image (EXIF orientation applied, grey or RGB, a centred crop to the
target's aspect, then a resize with a named filter) into one uint8 file, ``pixels.u8``, beside a
manifest naming every file with its size and modification time, the crop, the size and the
filter (:mod:`arena.data.imagecache`). Later starts and ``arena resume`` open it in seconds; a
changed folder is noticed and decoded again, with one line saying so. Training reads batches
from the file (positional reads: memory holds a batch, the page cache the rest) and turns them
into floats on the device; the held-out split, which the metrics read whole, is held as floats.
The batches are those the same folder decoded into memory would give (``cache: false``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch

from arena.core.errors import DataError
from arena.core.registry import Gt, Lt
from arena.core.resources import human_bytes, memory_bytes
from arena.data.imagecache import FILTERS, ImageCache, decode_folder, listing
from arena.data.kinds import Images
from arena.data.source import DataSource

__all__ = ["images", "ImageRows"]

Range = Literal["unit", "symmetric"]
Crop = Literal["center", "none"]
Filter = Literal["nearest", "box", "bilinear", "hamming", "bicubic", "lanczos"]
_SPLIT_SEED = 20140610  # as arena.data.files: the held-out rows are the same in every run


CONVERT_ROWS = 4096
"""Rows converted to floats at a time (the held-out split: its floats and a few MB more)."""


def _to_float(u8: torch.Tensor, value_range: str) -> torch.Tensor:
    """uint8 pixels as the floats training sees: float32 division by 255, then ``2x - 1`` for
    the symmetric range (each operation rounded once, so every path gives equal bits), in place
    and a block of rows at a time, so that the largest split costs its floats and no copies."""
    out = torch.empty(u8.shape, dtype=torch.float32, device=u8.device)
    for i in range(0, u8.shape[0], CONVERT_ROWS):
        block = out[i:i + CONVERT_ROWS]
        block.copy_(u8[i:i + CONVERT_ROWS])
        block.div_(255.0)
        if value_range == "symmetric":
            block.mul_(2).sub_(1)
    return out.to(torch.get_default_dtype())


class ImageRows:
    """The training split of a cached folder: behaves as the float tensor ``(N, C, H, W)`` it
    stands for where the arena reads a training split (its shape, a slice, ``index_select``),
    reading only the rows asked for from the cache and converting them on ``device``.

    Args:
        cache: the decoded folder.
        rows: which rows of the cache, in this split's order.
        value_range: ``unit`` or ``symmetric``.
        device: where the floats go.
    """

    resident_bytes = 0
    """The memory it holds (the preflight's count): none, the pixels stay in the cache file."""

    def __init__(self, cache: ImageCache, rows: np.ndarray, value_range: str, device: torch.device | str = "cpu") -> None:
        self.cache, self.rows, self.value_range = cache, np.asarray(rows, dtype=np.int64), value_range
        self.device = torch.device(device)
        self.shape = torch.Size((len(self.rows), *cache.shape))
        self.dtype = torch.get_default_dtype()
        self.ndim = len(self.shape)

    def __repr__(self) -> str:
        return f"ImageRows({len(self.rows):,} images of {tuple(self.cache.shape)} from {self.cache.path})"

    def __len__(self) -> int:
        return len(self.rows)

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return math.prod(self.shape)

    def element_size(self) -> int:
        return torch.empty(0, dtype=self.dtype).element_size()

    def _floats(self, picked: np.ndarray) -> torch.Tensor:
        u8 = torch.from_numpy(self.cache.read(self.rows[picked]))
        return _to_float(u8.to(self.device), self.value_range)

    def index_select(self, dim: int, index: torch.Tensor) -> torch.Tensor:
        if dim != 0:
            raise ValueError("the rows of a cached image folder are selected along dimension 0 only")
        return self._floats(index.detach().cpu().numpy().astype(np.int64))

    def __getitem__(self, key: Any) -> torch.Tensor:
        if isinstance(key, torch.Tensor):
            key = key.detach().cpu().numpy()
        picked = np.arange(len(self.rows))[key]
        return self._floats(np.atleast_1d(picked)) if np.ndim(picked) else self._floats(np.array([picked]))[0]

    def to(self, target: torch.device | str | torch.dtype) -> ImageRows:
        if isinstance(target, torch.dtype):
            return self  # converted to the default float type as it is read
        return ImageRows(self.cache, self.rows, self.value_range, target)

    def contiguous(self) -> ImageRows:
        return self

    def cpu(self) -> torch.Tensor:
        """Every row as floats in memory (what a metric reading the whole split needs)."""
        return self.to("cpu")[:]


def images(
    seed: int,
    root: str,
    size: tuple[Annotated[int, Gt(0)], Annotated[int, Gt(0)]] | None = None,
    channels: Literal[1, 3] = 3,
    range: Range = "unit",
    test_fraction: Annotated[float, Gt(0), Lt(1)] = 0.1,
    crop: Crop = "center",
    filter: Filter = "bilinear",
    cache: bool = True,
) -> DataSource:
    """Every image file in a folder (recursively), as ``(channels, height, width)``.

    Args:
        root: the folder.
        size: ``[height, width]`` to resize to; by default all images must share one size.
        channels: 1 (grey) or 3 (RGB).
        range: ``unit`` scales pixels to [0, 1], ``symmetric`` to [-1, 1].
        test_fraction: share of images held out (a fixed random subset).
        crop: ``center`` cuts the largest centred part of the target's aspect before resizing
            (faces stay faces), ``none`` resizes the whole image (squashing it).
        filter: the resampling filter of the resize (PIL's; DCGAN's and torchvision's default
            is bilinear, clean-fid's bicubic).
        cache: decode once into a cache (``$GAN_ARENA_CACHE/images``, default
            ``~/.cache/gan-arena/images``) and read batches from it; false decodes into memory.
    """
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise DataError(f"image folder {folder} does not exist")
    options = {"size": list(size) if size is not None else None, "channels": channels, "crop": crop, "filter": filter}
    if filter not in FILTERS:
        raise DataError(f"unknown filter {filter!r} (known: {', '.join(FILTERS)})")
    if cache:
        decoded = ImageCache.open_or_build(folder, **options)
        n = decoded.count
    else:
        files = listing(folder)
        pixels = (size[0] * size[1]) if size is not None else None
        if pixels is not None and len(files) * pixels * channels * 5 > memory_bytes("cpu") * 0.8:
            raise DataError(f"the images of {folder} need more than {human_bytes(memory_bytes('cpu') * 0.8)} of "
                            f"memory decoded (80% of this machine's); leave data.cache on")
        stack, skipped = decode_folder(folder, files, **options)
        n = stack.shape[0]
    if n < 2:
        raise DataError(f"image folder {folder} holds {n} readable image files; need at least 2")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(_SPLIT_SEED)).numpy()
    test = max(1, int(round(n * test_fraction)))
    low, high = (-1.0, 1.0) if range == "symmetric" else (0.0, 1.0)
    info: dict[str, Any] = {"root": str(folder), "files": n, **options}
    if cache:
        train: Any = ImageRows(decoded, perm[test:], range)
        held = _to_float(torch.from_numpy(decoded.heldout(perm[:test])), range)
        info |= {"cache": str(decoded.path), "skipped": decoded.skipped}
    else:
        x = torch.from_numpy(stack)
        train, held = _to_float(x[perm[test:]], range), _to_float(x[perm[:test]], range)
        info["skipped"] = skipped
    return DataSource("images", {"train": train, "test": held}, low, high, kind=Images(), info=info, finite=True)
