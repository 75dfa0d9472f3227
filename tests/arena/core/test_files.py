"""arena/core/files.py: bounded reads, JSON with its file named, link-safe writes, names that stay
inside, array headers checked before anything is allocated."""

from __future__ import annotations

import io
import os
import threading
import zipfile

import numpy as np
import pytest

from arena.core.errors import DataError, RunDirError
from arena.core.files import inside, load_npy, load_npz, parse_json, read_bytes, read_json, read_text


def test_reads_are_bounded_whatever_size_a_file_reports(tmp_path):
    f = tmp_path / "a.json"
    f.write_bytes(b"x" * 100)
    assert read_bytes(f, 100) == b"x" * 100
    with pytest.raises(RunDirError, match="100 bytes; at most 99 are read"):
        read_bytes(f, 99)
    if os.path.exists("/dev/zero"):  # reports size 0 and never ends
        with pytest.raises(RunDirError, match="character device"):
            read_bytes("/dev/zero", 10, pipes=True)
    with pytest.raises(RunDirError, match="a directory"):
        read_bytes(tmp_path, 10)
    with pytest.raises(RunDirError, match="no such file"):
        read_bytes(tmp_path / "missing", 10)


def test_a_pipe_is_read_once_where_pipes_are_allowed_and_refused_elsewhere(tmp_path):
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    with pytest.raises(RunDirError, match="a pipe, not a regular file"):
        read_bytes(fifo, 10)  # refused from its stat: never opened, so never blocks
    writer = threading.Thread(target=lambda: fifo.write_bytes(b"a" * 50))
    writer.start()
    assert read_bytes(fifo, 100, pipes=True) == b"a" * 50
    writer.join(5)
    writer = threading.Thread(target=lambda: fifo.write_bytes(b"a" * 50))
    writer.start()
    with pytest.raises(RunDirError, match="more than 10 bytes"):
        read_bytes(fifo, 10, pipes=True)  # an endless stream stops at the cap
    writer.join(5)


def test_a_named_pipe_nothing_writes_to_is_refused_not_waited_on_forever(tmp_path, monkeypatch):
    import time

    import arena.core.files as files

    monkeypatch.setattr(files, "PIPE_WAIT", 0.3)
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    started = time.perf_counter()
    with pytest.raises(RunDirError, match="nothing came through the pipe"):
        read_bytes(fifo, 10, pipes=True)
    assert time.perf_counter() - started < 5


def test_json_errors_name_the_file_and_what_is_wrong(tmp_path):
    f = tmp_path / "results.json"
    for content, said in ((b"{", "not valid JSON"), (b"\xff\xfe", "not UTF-8"), (b"[" * 100_000, "nested too deeply"),
                          (b'"text"', "expected a list at the top, found str")):
        f.write_bytes(content)
        with pytest.raises(RunDirError, match=said) as caught:
            read_json(f, list)
        assert str(f) in str(caught.value) and "\n" not in str(caught.value)
    assert parse_json('{"a": 1}', "x", dict) == {"a": 1}


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", "", None, 3])
def test_names_read_from_a_file_stay_inside_their_parent(tmp_path, name):
    with pytest.raises(RunDirError):
        inside(tmp_path, name, "the run")


def test_a_name_that_leaves_through_a_link_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "parent").mkdir()
    (tmp_path / "parent" / "seed-0").symlink_to(tmp_path / "out")
    with pytest.raises(RunDirError, match="through a link"):
        inside(tmp_path / "parent", "seed-0", "the run")
    assert inside(tmp_path / "parent", "seed-1", "the run") == tmp_path / "parent" / "seed-1"


def _npy_header(shape, descr="<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_array_headers_are_checked_before_allocating(tmp_path):
    f = tmp_path / "huge.npy"
    f.write_bytes(_npy_header((10**7, 10**7)))  # declares 800 TB, holds nothing
    with pytest.raises(DataError, match="declares 800,000,000,000,000 bytes"):
        load_npy(f, 10**9, error=DataError)
    pickled = tmp_path / "objects.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(RunDirError, match="pickled"):
        load_npy(pickled, 10**9)
    ok = tmp_path / "ok.npy"
    np.save(ok, np.arange(6.0).reshape(2, 3))
    assert load_npy(ok, 48).shape == (2, 3)


def test_an_archive_member_declaring_terabytes_is_refused_unread(tmp_path):
    f = tmp_path / "fixed-000002.npz"
    with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("g0.npy", _npy_header((10**6, 10**6), "<f4"))
    with pytest.raises(RunDirError, match=r"fixed-000002.npz\[g0.npy\]: declares"):
        load_npz(f, 1 << 30)
    np.savez_compressed(f, g0=np.ones((3, 2), np.float32))
    assert load_npz(f, 1 << 30)["g0"].shape == (3, 2)
    f.write_bytes(b"garbage")
    with pytest.raises(RunDirError, match="not a readable .npz archive"):
        load_npz(f, 1 << 30)


def test_read_text_refuses_what_is_not_utf8(tmp_path):
    f = tmp_path / "config.yaml"
    f.write_bytes(b"name: \xff")
    with pytest.raises(RunDirError, match="not UTF-8 text"):
        read_text(f, 100, "config file")
