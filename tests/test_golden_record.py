"""The golden file's bookkeeping (tests/golden.py): one set of fingerprints per platform, stale
records dropped when the numbers move, the first one-platform format still read."""

from __future__ import annotations

import json

import pytest

from tests import golden

AVX2 = {"torch": "2.13.0+cpu", "cpu_capability": "AVX2", "machine": "x86_64"}
AVX512 = {"torch": "2.13.0+cpu", "cpu_capability": "AVX512", "machine": "x86_64"}


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """golden.py on a file in tmp_path, two shipped configs, and runs that say where they ran."""
    here = {"platform": AVX2}
    monkeypatch.setattr(golden, "GOLDEN", tmp_path / "golden_runs.json")
    monkeypatch.setattr(golden, "shipped", lambda: ["a", "b"])
    monkeypatch.setattr(golden, "platform_key", lambda: dict(here["platform"]))
    monkeypatch.setattr(golden, "run_one", lambda name, out: {"run": name, "on": here["platform"]["cpu_capability"]})
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    return here


def on_file():
    """{cpu_capability: {config: where its record was made}}."""
    data = json.loads(golden.GOLDEN.read_text())
    return {e["platform"]["cpu_capability"]: {n: fp["on"] for n, fp in e["runs"].items()} for e in data["platforms"]}


def test_recording_everything_forgets_the_other_platforms(fake):
    golden.record()
    fake["platform"] = AVX512
    golden.record(add_platform=True)
    assert on_file() == {"AVX2": {"a": "AVX2", "b": "AVX2"}, "AVX512": {"a": "AVX512", "b": "AVX512"}}
    golden.record()  # the numbers moved: the AVX2 records are stale
    assert on_file() == {"AVX512": {"a": "AVX512", "b": "AVX512"}}


def test_recording_one_config_drops_only_its_stale_records(fake):
    golden.record()
    fake["platform"] = AVX512
    golden.record(add_platform=True)
    golden.record(["b"])
    assert on_file() == {"AVX2": {"a": "AVX2"}, "AVX512": {"a": "AVX512", "b": "AVX512"}}
    data = golden.load()
    assert golden.runs_anywhere(data) == {"a": {"run": "a", "on": "AVX512"}, "b": {"run": "b", "on": "AVX512"}}
    fake["platform"] = AVX2  # back on AVX2: its own record of a, AVX512's of b (compared within a tolerance)
    assert golden.runs_here(data) == {"a": {"run": "a", "on": "AVX2"}}
    assert golden.runs_anywhere(data) == {"a": {"run": "a", "on": "AVX2"}, "b": {"run": "b", "on": "AVX512"}}


def test_a_platform_left_with_no_records_is_dropped(fake):
    golden.record(["a"])
    fake["platform"] = AVX512
    golden.record(["a"])
    assert on_file() == {"AVX512": {"a": "AVX512"}}


def test_the_first_format_is_read_as_one_platform(fake):
    golden.GOLDEN.write_text(json.dumps({"platform": AVX2, "runs": {"a": {"run": "a", "on": "AVX2"}}}))
    data = golden.load()
    assert golden.runs_here(data) == {"a": {"run": "a", "on": "AVX2"}}
    fake["platform"] = AVX512
    assert golden.runs_here(data) is None
    golden.record(add_platform=True)
    assert on_file() == {"AVX2": {"a": "AVX2"}, "AVX512": {"a": "AVX512", "b": "AVX512"}}


def test_named_configs_added_on_a_second_platform_keep_the_first_platforms_records(fake):
    """``make golden NAMES``: the configs recorded here, then at the second kernel level beside them."""
    golden.record()
    fake["platform"] = AVX512
    golden.record(add_platform=True)
    fake["platform"] = AVX2
    golden.record(["b"])
    fake["platform"] = AVX512
    golden.record(["b"], add_platform=True)
    assert on_file() == {"AVX2": {"a": "AVX2", "b": "AVX2"}, "AVX512": {"a": "AVX512", "b": "AVX512"}}


def test_the_second_kernel_level_is_a_platform_of_its_own(monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    plain = golden.platform_key()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "sse41")
    assert golden.platform_key() == {**plain, "onednn_max_cpu_isa": "SSE41"}


def test_recording_refuses_pinned_blas_threads(fake, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with pytest.raises(SystemExit, match="OMP_NUM_THREADS"):
        golden.record()
    assert not golden.GOLDEN.exists()
