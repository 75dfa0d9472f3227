"""arena/recording/tensorboard.py: one TensorBoard run per arena run, with scalars, images and
hyper-parameters; a resumed run continues at the right step."""

from __future__ import annotations

import pytest

import arena
from arena.config import parse_config
from tests.conftest import StopAt, tiny_pool

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="TensorBoard is not installed (pip install 'gan-arena[tensorboard]')")


def load(run_dir):
    acc = event_accumulator.EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def tb_raw(**changes):
    raw = tiny_pool(2, 2, schedule={"matchings": 6, "steps_per_match": 5},
                   review={"every": 2}, checkpoint={"every": 2}, log={"tensorboard": True})
    raw.update(changes)
    return raw


def test_a_run_logs_scalars_images_and_hyperparameters(tmp_path):
    arena.run(parse_config(tb_raw()), out=tmp_path / "run")
    acc = load(tmp_path / "run")
    tags = acc.Tags()
    scalars = set(tags["scalars"])
    for tag in ("train/g0 v d0/d_loss", "train/g0 v d0/g_loss", "train/g0 v d0/d_real", "train/g0 v d0/d_fake",
                "eval/g0/high_quality", "eval/mixture/high_quality", "rating/g0", "rating/d1", "final/high_quality"):
        assert tag in scalars, tag
    assert any(t.startswith("mixture/weight/") for t in scalars)
    assert [e.step for e in acc.Scalars("eval/g0/high_quality")] == [2, 4, 6]
    assert [e.step for e in acc.Scalars("train/g0 v d0/d_loss")] == [1, 3, 5]  # round-robin: g0 meets d0 every other matching
    assert {"samples/g0", "samples/g1", "payoff"} <= set(tags["images"])
    assert [e.step for e in acc.Images("payoff")] == [2, 4, 6]
    assert "config/text_summary" in tags["tensors"]
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    values = [v for f in (tmp_path / "run" / "tensorboard").glob("events.*") for e in EventFileLoader(str(f)).Load()
              for v in e.summary.value]
    assert {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"} <= {v.tag for v in values}
    start = next(v for v in values if v.tag == "_hparams_/session_start_info")
    assert b"steps_per_match" in start.metadata.plugin_data.content


def test_a_resumed_run_continues_at_the_next_step(tmp_path):
    arena.run(parse_config(tb_raw()), out=tmp_path / "run", callbacks=[StopAt(4)])
    assert [e.step for e in load(tmp_path / "run").Scalars("eval/g0/high_quality")] == [2, 4]
    arena.resume(tmp_path / "run")
    steps = [e.step for e in load(tmp_path / "run").Scalars("eval/g0/high_quality")]
    assert steps == [2, 4, 6], "continued at 6, not started over at 1"
    assert len(list((tmp_path / "run" / "tensorboard").glob("events.*"))) == 2, "one TensorBoard run, two event files"
