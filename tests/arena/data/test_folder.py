"""An image folder of any size: decoded once into a cache (crop, filter, EXIF, grey and RGB,
unreadable files skipped), reopened without decoding, noticed when it changes, and read a batch
at a time into exactly the batches the folder decoded into memory gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import arena.data.imagecache as imagecache
from arena.data.folder import ImageRows, images
from arena.data.imagecache import ImageCache, decode
from benchmarks.image_folder import make_folder

pytestmark = pytest.mark.filterwarnings("ignore:.*skipped.*:RuntimeWarning")


@pytest.fixture
def cache_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("GAN_ARENA_IMAGE_CACHE", str(root))
    return root


def test_center_crop_keeps_the_middle_and_none_squashes(tmp_path):
    """A 30 x 10 image, white in its middle 10 x 10 and black at the sides: the centred crop to a
    square keeps only the white; resizing the whole squashes the black in."""
    a = np.zeros((10, 30, 3), np.uint8)
    a[:, 10:20] = 255
    Image.fromarray(a).save(tmp_path / "wide.png")
    cropped = decode(str(tmp_path / "wide.png"), [5, 5], 3, "center", "bilinear")
    squashed = decode(str(tmp_path / "wide.png"), [5, 5], 3, "none", "bilinear")
    assert cropped.shape == squashed.shape == (3, 5, 5)
    assert (cropped == 255).all()
    assert squashed[:, :, 0].max() < 100 and squashed[:, :, 2].min() > 200  # black left edge, white middle
    nearest = decode(str(tmp_path / "wide.png"), [5, 5], 3, "none", "nearest")
    assert set(np.unique(nearest)) <= {0, 255}  # the filter is the one named


def test_exif_orientation_grey_palette_and_alpha_are_handled(tmp_path):
    a = np.zeros((4, 8, 3), np.uint8)
    a[0, 0] = 255  # the top-left pixel
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    im.save(tmp_path / "turned.jpg", exif=exif, quality=100)
    turned = decode(str(tmp_path / "turned.jpg"), None, 3, "center", "bilinear")
    assert turned.shape == (3, 8, 4)  # displayed upright: 4 wide, 8 tall
    assert turned[:, 0, -1].mean() > 128  # the marked pixel is now top-right
    Image.fromarray(np.full((6, 6), 200, np.uint8)).save(tmp_path / "grey.png")
    Image.fromarray(np.full((6, 6, 4), 100, np.uint8), "RGBA").save(tmp_path / "alpha.png")
    Image.fromarray(np.full((6, 6), 3, np.uint8)).convert("P").save(tmp_path / "palette.gif")
    for name in ("grey.png", "alpha.png", "palette.gif"):
        assert decode(str(tmp_path / name), [4, 4], 3, "center", "bilinear").shape == (3, 4, 4)
        assert decode(str(tmp_path / name), [4, 4], 1, "center", "bilinear").shape == (1, 4, 4)
    assert (decode(str(tmp_path / "grey.png"), None, 3, "center", "bilinear") == 200).all()


def test_the_cache_gives_the_batches_memory_gives(tmp_path, cache_root):
    """Same seed, same batches: the training stream, a slice, a row and the held-out split are
    equal bit for bit from the cache and from memory; the training split holds no pixels."""
    make_folder(tmp_path / "folder", 60)
    for value_range in ("unit", "symmetric"):
        cached = images(0, str(tmp_path / "folder"), size=(16, 16), range=value_range)
        memory = images(0, str(tmp_path / "folder"), size=(16, 16), range=value_range, cache=False)
        assert isinstance(cached.train, ImageRows) and isinstance(memory.train, torch.Tensor)
        assert cached.train.shape == memory.train.shape == (54, 3, 16, 16)
        a, b = cached.stream(8, 3), memory.stream(8, 3)
        for _ in range(20):  # past an epoch: a new permutation
            assert torch.equal(a.next(), b.next())
        assert torch.equal(cached.test, memory.test)
        assert torch.equal(cached.train[-5:], memory.train[-5:]) and torch.equal(cached.train[7], memory.train[7])
        assert torch.equal(cached.train.cpu(), memory.train)
        assert cached.train.resident_bytes == 0


def test_a_second_start_opens_the_cache_and_a_changed_folder_is_decoded_again(tmp_path, cache_root, monkeypatch):
    folder = make_folder(tmp_path / "folder", 30)
    first = images(0, str(folder), size=(8, 8))
    calls = []
    real = imagecache.decode_folder
    monkeypatch.setattr(imagecache, "decode_folder", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = images(0, str(folder), size=(8, 8))
    assert calls == [] and again.info["cache"] == first.info["cache"]
    assert torch.equal(again.test, first.test)
    images(0, str(folder), size=(8, 8), crop="none")  # other options: a cache of their own
    assert len(calls) == 1 and len(list(cache_root.iterdir())) == 2
    victim = next(folder.rglob("*.png"))
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(victim)
    (folder / "new.png").write_bytes((folder / victim.name).read_bytes() if (folder / victim.name).exists() else victim.read_bytes())
    with pytest.warns(RuntimeWarning, match=r"changed since its cache was made \(1 added, 0 removed, 1 changed\); decoding"):
        changed = images(0, str(folder), size=(8, 8))
    assert len(calls) == 2 and changed.info["files"] == 31


def test_a_damaged_cache_is_decoded_again_and_unreadable_files_are_named(tmp_path, cache_root):
    folder = make_folder(tmp_path / "folder", 12)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("not a picture")
    with pytest.warns(RuntimeWarning, match=r"skipped 2 unreadable image file\(s\)"):
        data = images(0, str(folder), size=(8, 8))
    assert sorted(name for name, _ in data.info["skipped"]) == ["empty.jpg", "text.png"]
    pixels = Path(data.info["cache"]) / ImageCache.PIXELS
    pixels.write_bytes(pixels.read_bytes()[:-10])  # cut short
    again = images(0, str(folder), size=(8, 8))
    assert torch.equal(again.test, data.test) and pixels.stat().st_size == 12 * 3 * 8 * 8


def test_a_run_on_a_cached_folder_trains_resumes_and_logs_skipped_files(tmp_path, cache_root):
    """A tiny DCGAN on a cached folder: the skipped file is named in the run's events.log, and a
    run stopped after its second matching, resumed (the cache reopened), logs what an
    uninterrupted run logs."""
    import arena
    from arena.config import parse_config
    from arena.tournament.callbacks import Callback
    from tests.conftest import records, tiny_raw

    class StopAtTwo(Callback):
        def on_checkpoint(self, tournament):
            if tournament.completed == 2:
                tournament.request_stop()

    folder = make_folder(tmp_path / "folder", 40)
    (folder / "broken.png").write_text("no")
    raw = tiny_raw(schedule={"matchings": 4, "steps_per_match": 3, "batch_size": 8}, review={"every": 2, "samples": 20},
                   checkpoint={"every": 1, "keep_last": 5})
    raw["data"] = {"source": "images", "root": str(folder), "size": [8, 8], "range": "symmetric"}
    for spec in raw["agents"]:
        spec["net"] = {"type": "dcgan", "width": 8}
    assert arena.run(parse_config(raw), out=tmp_path / "full").finished
    log = (tmp_path / "full" / "events.log").read_text()
    assert "broken.png" in log and "skipped 1 unreadable image file" in log
    assert not arena.run(parse_config(raw), out=tmp_path / "stopped", callbacks=[StopAtTwo()]).finished
    assert arena.resume(tmp_path / "stopped").finished
    assert records(tmp_path / "stopped") == records(tmp_path / "full")


def test_workers_decode_for_a_script_without_a_main_guard(tmp_path, cache_root):
    """The decode's worker processes must not import the user's script again (spawn would: a
    script without a ``__main__`` guard would start its run in every worker, one read from stdin
    breaks the pool). A script on stdin, workers forced on a small folder, decodes whole."""
    import subprocess
    import sys

    from benchmarks.children import child_env

    folder = make_folder(tmp_path / "folder", 40)
    script = ("import arena.data.imagecache as c\nc.PARALLEL_FROM = 2\nc.CHUNK = 8\n"
              "from arena.data.folder import images\n"
              f"d = images(0, {str(folder)!r}, size=(8, 8))\nprint('decoded', d.info['files'])\n")
    done = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, timeout=120,
                          env=child_env(GAN_ARENA_IMAGE_CACHE=str(cache_root)), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "decoded 40" in done.stdout and "Traceback" not in done.stderr
