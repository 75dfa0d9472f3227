"""Pictures' titles fit their figures."""

from __future__ import annotations

import pytest
import torch

from arena.recording.pictures import fitted_title, save_scatter


def test_a_long_title_is_broken_into_lines_that_fit_the_figure(tmp_path):
    title = ("PanelSampler(Mixture(g2: 0.479, g1: 0.302, g0: 0.219), judges: d0, d1, d2, d3) "
             "(shape (2,)), 2500 samples")
    lines = fitted_title(title, 5).split("\n")
    assert len(lines) == 2 and all(len(line) <= 65 for line in lines)
    assert " ".join(lines) == title, "nothing dropped"
    assert fitted_title("g0, matching 25", 5) == "g0, matching 25" and fitted_title("", 5) == ""
    # the figure is written with it (and a short title unchanged)
    save_scatter(torch.randn(50, 2), tmp_path / "s.png", title=title)
    assert (tmp_path / "s.png").stat().st_size > 1000


@pytest.mark.parametrize("source, size", [("ring8", (500, 500)), ("gaussian1d", (600, 350)), ("categorical", (500, 300)),
                                          ("digits", None)])
def test_every_kind_of_data_gets_its_picture(tmp_path, source, size):
    from PIL import Image

    from arena.core.registry import build
    from arena.data import sources
    from arena.recording.pictures import picture
    from games.checker import tiny_pair

    data = build({"source": source}, sources, ("data",), seed=0)
    path = tmp_path / "x.png"
    d = tiny_pair(dim=1)[1] if source == "gaussian1d" else None
    picture(data.test[:64], path, data, d, title="t", grid=16)
    with Image.open(path) as im:
        if size:
            assert im.size == size
        else:
            assert im.width >= 256 and im.mode == "L"  # 16 images of 8 x 8, scaled up
