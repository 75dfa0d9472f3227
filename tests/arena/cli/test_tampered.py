"""Run directories from someone else: a real run, damaged one file at a time (truncated, filled
with garbage, its JSON type changed, replaced by a link to a file outside), then every command
that reads runs is played on it. None may raise (a traceback), each ends 0 (with a warning) or 2
(one line naming the problem), in bounded time, and nothing outside the run changes. Then a
corpus of hand-made plants: links where the lock, a temporary file or a folder of the run goes,
a seeds index that names directories outside its parent, a checkpoint manifest without fields, a
pickled checkpoint, a config edited so that the weights no longer fit."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from arena.cli import main
from tests.conftest import tiny_pool

SECRET = "the user's own file\n"


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    """A finished 2 x 2 run with every file a run writes: metrics, standings, a mixture, fixed
    samples, pictures, checkpoints, run.json, an eval.json and a report."""
    root = tmp_path_factory.mktemp("real")
    cfg = root / "config.yaml"
    cfg.write_text(yaml.safe_dump(tiny_pool(2, 2, name="fuzz", schedule={"matchings": 4, "steps_per_match": 5},
                                            review={"every": 2, "samples": 200, "pictures": True},
                                            mixture={"top": 2}, checkpoint={"every": 2, "keep_last": 2},
                                            log={"report": True}),
                                  sort_keys=False))
    run = root / "run"
    assert main(["run", str(cfg), "--out", str(run), "--quiet"]) == 0
    assert main(["eval", str(run), "-n", "64"]) == 0
    return run


def play(*args) -> tuple[int, str, float]:
    """``arena ARGS`` in this process: exit code, stderr and seconds; any exception escaping
    ``main`` (what a user would see as a traceback) fails the test with the command named."""
    err = io.StringIO()
    started = time.perf_counter()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main([str(a) for a in args])
    except BaseException as exc:
        raise AssertionError(f"arena {' '.join(map(str, args))} raised {type(exc).__name__}: {exc}") from exc
    return code, err.getvalue(), time.perf_counter() - started


def readers(run: Path, scratch: Path, full: bool = True) -> list[list]:
    """Every command that reads a run, resume last (it may write); ``full``: sampling the mixture
    as a picture too."""
    return [
        ["leaderboard", run],
        ["ratings", run],
        ["sample", run, "-n", 16, "-o", scratch / "x.npy"],
        *([["sample", run, "--mixture", "-n", 16, "-o", scratch / "x.png"]] if full else []),
        ["eval", run, "-n", 64],
        ["report", run, "-o", scratch / "report.html"],
        ["compare", run, "-o", scratch / "compare.md"],
        ["league", run, "-n", 64],
        ["resume", run, "--quiet"],
    ]


def mutations(path: Path, outside: Path) -> dict[str, callable]:
    data = path.read_bytes()

    def json_type():
        value = json.loads(data) if path.suffix == ".json" else None
        path.write_text(json.dumps([] if isinstance(value, dict) else {"x": [1, "a"]}))

    return {
        "truncated": lambda: path.write_bytes(data[: len(data) // 2]),
        "garbage": lambda: path.write_bytes(bytes(range(256)) * 4),
        "json-type": json_type,
        "link-outside": lambda: (path.unlink(), path.symlink_to(outside)),
    }


FILES = ["config.yaml", "run.json", "metrics.jsonl", "results.json", "leaderboard.json", "leaderboard.csv",
         "lineage.json", "mixture.json", "eval.json", "report.html", "checkpoints/ckpt-00000004.json",
         "checkpoints/ckpt-00000004.pt", "samples/fixed-000004.npz", "samples/g0-000004.png", ".lock"]


def test_every_reader_succeeds_on_the_untouched_run(real_run, tmp_path):
    """The baseline: the damage, not the commands, is what the test below refuses."""
    run = tmp_path / "run"
    shutil.copytree(real_run, run)
    for args in readers(run, tmp_path):
        code, err, _ = play(*args)
        assert code == 0, (args[0], err)
    assert (tmp_path / "x.npy").is_file() and (tmp_path / "report.html").is_file()


FULL = ("truncated", "garbage", "json-type", "link-outside")


@pytest.mark.parametrize("full", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["fast", "full"])
@pytest.mark.parametrize("name", FILES)
def test_every_reader_survives_a_damaged_file(real_run, tmp_path, name, full):
    """Every file, every reader: in the default suite garbage (wrong types and links have the
    tests below); with ``-m slow`` also truncation, a changed JSON type and a link outside."""
    kinds = FULL if full else ("garbage",)
    outside = tmp_path / "outside" / "secret.txt"
    outside.parent.mkdir()
    outside.write_text(SECRET)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for kind in kinds:
        run = tmp_path / f"run-{kind}"
        shutil.copytree(real_run, run, symlinks=True)
        target = run / name
        assert target.is_file(), f"the real run should hold {name}"
        mutations(target, outside)[kind]()
        for args in readers(run, scratch, full):
            code, err, seconds = play(*args)
            where = f"{name} {kind}: arena {args[0]}"
            assert code in (0, 2), f"{where} exited {code}: {err}"
            assert seconds < 60, f"{where} took {seconds:.0f} s"
            if code == 2:
                errors = [line for line in err.splitlines() if ": error: " in line]
                assert len(errors) == 1, f"{where}: expected one error line, got {err!r}"
            assert "Traceback" not in err
        assert outside.read_text() == SECRET and os.listdir(outside.parent) == ["secret.txt"], \
            f"{name} {kind}: a file outside the run was written"


def test_a_link_planted_for_a_temporary_file_or_the_lock_is_never_followed(real_run, tmp_path):
    """The old atomic write opened `<name>.tmp` through a planted link; the lock opened `.lock`
    through one. Now a write never follows a link, and a run holding one is refused by name."""
    outside = tmp_path / "secret.txt"
    outside.write_text(SECRET)
    for plant in ("leaderboard.json.tmp", ".lock", "samples", "checkpoints"):
        run = tmp_path / f"run-{plant.strip('.')}"
        shutil.copytree(real_run, run, symlinks=True)
        target = run / plant
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        target.symlink_to(outside if "." in plant else tmp_path)
        for args in (["report", run], ["eval", run, "-n", 64], ["resume", run, "--quiet"]):
            code, err, _ = play(*args)
            assert code == 2 and "symbolic link" in err, (plant, args[0], err)
        assert outside.read_text() == SECRET


def test_atomic_writes_refuse_a_link_and_never_follow_one(tmp_path):
    from arena.core.errors import RunDirError
    from arena.core.files import append_line, atomic_write

    outside = tmp_path / "secret.txt"
    outside.write_text(SECRET)
    link = tmp_path / "results.json"
    link.symlink_to(outside)
    with pytest.raises(RunDirError, match="symbolic link"):
        atomic_write(link, b"overwritten")
    with pytest.raises(OSError):
        append_line(link, "appended")
    atomic_write(tmp_path / "fresh.json", b"{}")
    assert outside.read_text() == SECRET and (tmp_path / "fresh.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.json", "results.json", "secret.txt"], \
        "no temporary file left behind"


@pytest.mark.parametrize("name", ["/tmp/elsewhere", "../elsewhere", "seed-0/../../elsewhere", 7])
def test_a_seeds_index_naming_a_directory_outside_its_parent_is_refused(tmp_path, name):
    parent = tmp_path / "seeds"
    parent.mkdir()
    (parent / "config.yaml").write_text(yaml.safe_dump(tiny_pool(1, 1)))
    (parent / "seeds.json").write_text(json.dumps({"seeds": [0], "runs": {"0": name}, "outputs": {}}))
    for args in (["resume", parent, "--quiet"], ["report", parent]):
        code, err, _ = play(*args)
        assert code == 2, err
        assert "seeds.json" in err or "refused" in err or "not a file name" in err
    assert not (tmp_path / "elsewhere").exists() and not Path("/tmp/elsewhere").exists()


def test_a_seed_run_linked_outside_its_parent_is_refused(tmp_path):
    parent = tmp_path / "seeds"
    parent.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (parent / "config.yaml").write_text(yaml.safe_dump(tiny_pool(1, 1)))
    (parent / "seed-0").symlink_to(tmp_path / "elsewhere")
    (parent / "seeds.json").write_text(json.dumps({"seeds": [0], "runs": {"0": "seed-0"}, "outputs": {}}))
    code, err, _ = play("resume", parent, "--quiet")
    assert code == 2 and "symbolic link" in err
    assert list((tmp_path / "elsewhere").iterdir()) == []


@pytest.mark.parametrize("manifest", [{}, {"file": "ckpt-00000004.pt"}, {"file": "/etc/passwd", "sha256": "0",
                                                                          "bytes": 1, "matching": 4},
                                      {"file": "ckpt-00000004.pt", "sha256": "0", "bytes": 10**15, "matching": 4}])
def test_a_manifest_without_its_fields_is_one_line(real_run, tmp_path, manifest):
    run = tmp_path / "run"
    shutil.copytree(real_run, run)
    for m in (run / "checkpoints").glob("*.json"):
        m.write_text(json.dumps(manifest))
    code, err, _ = play("sample", run, "-n", 4, "-o", tmp_path / "x.npy")
    assert code == 2 and "checkpoint" in err and len(err.strip().splitlines()) <= 3, err


def _plant_checkpoint(run: Path, payload: bytes) -> None:
    """Replace every checkpoint of ``run`` with ``payload``, under a manifest whose checksum holds."""
    import hashlib

    for manifest in (run / "checkpoints").glob("*.json"):
        weights = manifest.with_suffix(".pt")
        weights.write_bytes(payload)
        manifest.write_text(json.dumps({"file": weights.name, "sha256": hashlib.sha256(payload).hexdigest(),
                                        "bytes": len(payload), "matching": 4}))


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/gan-arena-pwned",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("what", ["foreign", "pickled"])
def test_a_foreign_or_malicious_checkpoint_is_one_line(real_run, tmp_path, what):
    import pickle

    import torch

    run = tmp_path / "run"
    shutil.copytree(real_run, run)
    buf = io.BytesIO()
    torch.save({"model": {"weight": torch.zeros(3)}, "epoch": 7}, buf)
    _plant_checkpoint(run, buf.getvalue() if what == "foreign" else pickle.dumps({"x": _Evil()}))
    for args in (["sample", run, "-n", 4, "-o", tmp_path / "x.npy"], ["resume", run, "--quiet"],
                 ["league", run, "-n", 16]):
        code, err, _ = play(*args)
        errors = [line for line in err.splitlines() if ": error: " in line]
        assert code == 2 and len(errors) == 1, (args[0], err)
        assert ("does not fit" if what == "foreign" else "refused: it holds objects") in err
        assert "weights_only=False" not in err
    assert not Path("/tmp/gan-arena-pwned").exists()


def test_a_config_edited_so_the_weights_do_not_fit_is_one_line(real_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(real_run, run)
    raw = yaml.safe_load((run / "config.yaml").read_text())
    for agent in raw["agents"]:
        agent["net"]["hidden"] = [48, 48]
    (run / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    code, err, _ = play("sample", run, "-n", 4, "-o", tmp_path / "x.npy")
    assert code == 2 and "does not fit the run's config.yaml" in err, err


def test_a_value_of_the_wrong_type_deep_in_a_file_is_one_line(real_run, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(real_run, run)
    board = json.loads((run / "leaderboard.json").read_text())
    board["rows"][0]["rating"] = "high"
    board["rounds"] = None
    (run / "leaderboard.json").write_text(json.dumps(board))
    code, err, _ = play("leaderboard", run)
    assert code == 2 and "wrong shape" in err and len(err.strip().splitlines()) == 1, err
    monkeypatch.setenv("ARENA_DEBUG", "1")
    with pytest.raises(AssertionError, match="raised"):
        play("leaderboard", run)


def test_arguments_end_in_one_line(real_run, tmp_path):
    """A seed beyond 64 bits, an output that is a directory, a malformed --device, an absurd -n."""
    (tmp_path / "adir").mkdir()
    for args, said in (
        (["sample", real_run, "--seed", 2**70, "-o", tmp_path / "x.npy"], "2**63"),
        (["sample", real_run, "-n", 4, "-o", tmp_path / "adir.npy"], None),
        (["compare", real_run, "-o", tmp_path / "adir"], "is a directory"),
        (["sample", real_run, "--device", "cuda:x", "-o", tmp_path / "x.npy"], "cuda:N"),
        (["sample", real_run, "-n", 10**15, "-o", tmp_path / "x.npy"], "samples of shape"),
        (["eval", real_run, "-n", 10**15], "samples of shape"),
    ):
        if args[-1] == tmp_path / "adir.npy":
            (tmp_path / "adir.npy").mkdir()
            said = "is a directory"
        try:
            code, err, seconds = play(*args)
        except AssertionError as exc:
            if isinstance(exc.__cause__, SystemExit):  # argparse: usage and one error line, exit 2
                assert exc.__cause__.code == 2
                continue
            raise
        assert code == 2 and said in err and seconds < 30, (args, err)


def test_a_run_directory_whose_name_is_not_utf8_works(real_run, tmp_path):
    run = tmp_path / os.fsdecode(b"run-\xff")  # a byte that is not UTF-8, as a shell passes it
    shutil.copytree(real_run, run)
    for args in readers(run, tmp_path):
        code, err, _ = play(*args)
        assert code == 0, (args[0], err)


def test_a_config_through_a_pipe_is_read_once(tmp_path):
    """`arena check <(envsubst < t.yaml)`: a pipe can be read only once."""
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    text = yaml.safe_dump(tiny_pool(1, 1))
    import threading

    writer = threading.Thread(target=lambda: fifo.write_text(text))
    writer.start()
    code, err, _ = play("check", fifo)
    writer.join(5)
    assert code == 0, err


@pytest.mark.parametrize("path, said", [("/dev/zero", "character device"), ("/dev/null", "character device")])
def test_a_config_that_never_ends_or_is_a_device_is_refused(path, said):
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    code, err, seconds = play("check", path)
    assert code == 2 and said in err and seconds < 5, err
