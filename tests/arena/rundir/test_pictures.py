"""Pictures' titles fit their figures."""

from __future__ import annotations

import torch

from arena.rundir.pictures import fitted_title, save_scatter


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
