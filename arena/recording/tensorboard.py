"""TensorBoard, as an optional callback (``log.tensorboard: true``; ``pip install gan-arena[tensorboard]``).

One TensorBoard run per arena run, in ``RUN_DIR/tensorboard`` (so ``tensorboard --logdir runs/``
shows every run); the step is the matching. It logs the training records (losses, D(x),
D(G(z)), rounds per second), every review's metrics, ratings and mixture weights, each
generator's samples as an image, the payoff matrix as a heatmap image, and the run's
hyper-parameters with its final metrics. A resumed run purges the events written after the
checkpoint it resumes from and continues at the next matching, never from step 1.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from arena.core.errors import ArenaError
from arena.recording.pictures import picture
from arena.rundir.metrics_log import is_number
from arena.rundir.rundir import RunDir
from arena.tournament.callbacks import Callback

__all__ = ["TensorBoardWriter", "TENSORBOARD_DIR", "hyperparameters"]

TENSORBOARD_DIR = "tensorboard"
_SKIP = {"kind", "matching", "rounds", "agent", "generator", "discriminator", "components", "weights", "protocol",
         "wall", "elapsed"}


def _summary_writer():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ArenaError("log.tensorboard needs the tensorboard package: pip install 'gan-arena[tensorboard]'") from None
    return SummaryWriter


def hyperparameters(config) -> dict[str, Any]:
    """The hyper-parameters TensorBoard shows for a run: flat, scalar values only."""
    out: dict[str, Any] = {"seed": config.seed, "game": config.game.get("id", ""), "data": config.data.get("source", ""),
                           "schedule": config.schedule.type, "matchings": config.schedule.matchings,
                           "steps_per_match": config.schedule.steps_per_match, "batch_size": config.schedule.batch_size,
                           "ratings": config.ratings.system, "mixture": config.mixture.weights,
                           "selection_every": config.selection.every}
    for spec in config.agents:
        out[f"{spec.name}/count"] = spec.count
        out[f"{spec.name}/net"] = str(spec.net.get("type", ""))
        for key in ("type", "lr"):
            if key in spec.optim:
                value = spec.optim[key]
                out[f"{spec.name}/optim_{key}"] = float(value) if key == "lr" else str(value)
    return out


def _png_array(draw) -> np.ndarray:
    """An RGB array of the PNG that ``draw(path)`` writes."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.png"
        draw(path)
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))


def _heatmap(period: dict[str, Any]) -> np.ndarray:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from PIL import Image

    payoff = np.array([[np.nan if c is None else c for c in row] for row in period["payoff"]], dtype=float)
    fig, ax = plt.subplots(figsize=(1 + 0.5 * payoff.shape[1], 1 + 0.4 * payoff.shape[0]), dpi=80)
    ax.imshow(payoff, vmin=0, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(payoff.shape[1]))
    ax.set_xticklabels(period["discriminators"], rotation=90, fontsize=7)
    ax.set_yticks(range(payoff.shape[0]))
    ax.set_yticklabels(period["generators"], fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


class TensorBoardWriter(Callback):
    """Logs a run to TensorBoard (see the module docstring).

    Args:
        run_dir: the run directory; the events go to its ``tensorboard/`` folder.
    """

    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir
        self.writer = None

    @property
    def log_dir(self) -> Path:
        return self.run_dir.path / TENSORBOARD_DIR

    def on_run_start(self, tournament) -> None:
        writer_class = _summary_writer()
        # a resumed run drops what a killed process wrote after its checkpoint, and goes on from there
        purge = tournament.completed + 1 if tournament.completed > 0 else None
        self.writer = writer_class(log_dir=str(self.log_dir), purge_step=purge)
        if tournament.completed == 0:
            self.writer.add_text("config", "```\n" + (self.run_dir.path / RunDir.CONFIG).read_text() + "\n```", 0)

    def on_log(self, tournament, record: dict[str, Any]) -> None:
        if self.writer is None:
            return
        step = record.get("matching", tournament.completed)
        if record["kind"] == "train":
            prefix = f"train/{record['generator']} v {record['discriminator']}"
        elif record["kind"] == "eval":
            prefix = f"eval/{record['agent']}"
        else:
            return
        for key, value in record.items():
            if key not in _SKIP and is_number(value) and value == value:
                self.writer.add_scalar(f"{prefix}/{key}", value, step)
        if record["kind"] == "eval" and record["agent"] == "mixture":
            for name, weight in zip(record["components"], record["weights"]):
                self.writer.add_scalar(f"mixture/weight/{name}", weight, step)

    def on_review(self, tournament, review) -> None:
        if self.writer is None:
            return
        step, arena = review.matching, tournament.arena
        for row in review.leaderboard:
            if row["rating"] is not None:
                self.writer.add_scalar(f"rating/{row['agent']}", row["rating"], step)
                if row["uncertainty"] is not None:
                    self.writer.add_scalar(f"rating_uncertainty/{row['agent']}", row["uncertainty"], step)
        for gi, g in enumerate(arena.judged):
            d = arena.discriminators[gi % len(arena.discriminators)]
            image = _png_array(lambda path, g=g, d=d: picture(
                review.samples[g.name], path, arena.data, d, f"{g.name} at matching {step}", tournament.config.review.grid))
            self.writer.add_image(f"samples/{g.name}", image, step, dataformats="HWC")
        self.writer.add_image("payoff", _heatmap(review.payoff), step, dataformats="HWC")
        self.writer.flush()

    def on_run_end(self, tournament) -> None:
        if self.writer is None:
            return
        if tournament.finished and tournament.standings.output:
            from torch.utils.tensorboard.summary import hparams

            metrics = {f"final/{k}": float(v) for k, v in tournament.standings.output.metrics.items()
                       if isinstance(v, (int, float)) and v == v}
            for key, value in metrics.items():
                self.writer.add_scalar(key, value, tournament.completed)
            for summary in hparams(hyperparameters(tournament.config), metrics):
                self.writer._get_file_writer().add_summary(summary)
        self.writer.close()
        self.writer = None
