"""arena/output/record.py: what a review hands on, as a typed, versioned record."""

from __future__ import annotations

import re

import pytest

from arena.core.errors import RunDirError
from arena.output.record import OUTPUT_RECORD_VERSION, OutputRecord, PanelRecord

CALIBRATION = {"judges": ["d1", "d0"], "a": 1.0, "b": -0.5, "max_logit": 3.0, "gamma": 0.0, "sharpness": 1.0,
               "refine_steps": 0, "refine_lr": 0.01}

# As runs wrote mixture.json before the record had a version (a 2 x 2 grid25 run with its panel).
BEFORE = {"components": ["g1", "g0"], "weights": [0.75, 0.25], "matching": 40,
          "metrics": {"modes": 25, "high_quality": 0.9, "reverse_kl": 0.05},
          "panel": {**CALIBRATION, "acceptance": 0.5, "metrics": {"modes": 25, "high_quality": 0.99, "reverse_kl": 0.04}}}


def test_a_record_of_before_the_version_reads_as_one_and_writes_the_same_fields_with_it():
    output = OutputRecord.from_dict(BEFORE)
    assert output.components == ["g1", "g0"] and output.weights == [0.75, 0.25] and output.matching == 40
    assert output.panel == PanelRecord(CALIBRATION, 0.5, BEFORE["panel"]["metrics"])
    assert output.panel.judges == ["d1", "d0"] and output.filtered
    assert output.figures == BEFORE["panel"]["metrics"]  # the output is what the panel accepts
    assert output.as_dict() == {**BEFORE, "version": OUTPUT_RECORD_VERSION}
    assert OutputRecord.from_dict(output.as_dict()) == output


def test_a_failed_panel_leaves_the_mixtures_figures_as_the_output():
    failed = {**BEFORE, "panel": {**CALIBRATION, "acceptance": 0.001, "failed": "the panel accepted 2 of 1790 candidates"}}
    output = OutputRecord.from_dict(failed)
    assert not output.filtered and output.figures == BEFORE["metrics"]
    assert output.panel.failed.startswith("the panel accepted") and output.panel.metrics is None
    assert output.as_dict() == {**failed, "version": OUTPUT_RECORD_VERSION}


def test_the_classifier_that_judged_is_kept_beside_the_figures():
    judged = {"components": ["g0"], "weights": [1.0], "matching": 8, "metrics": {"modes": 990, "kl": 0.4},
              "classifier": "digits-cnn-mnist5k"}
    output = OutputRecord.from_dict(judged)
    assert output.classifier == "digits-cnn-mnist5k" and output.panel is None and not output.filtered
    assert output.as_dict() == {**judged, "version": OUTPUT_RECORD_VERSION}


def test_a_newer_or_broken_record_is_refused_with_its_source():
    with pytest.raises(RunDirError, match=re.escape("mixture.json: an output record of version 99, newer than")):
        OutputRecord.from_dict({**BEFORE, "version": 99}, "mixture.json")
    with pytest.raises(RunDirError, match=re.escape("mixture.json: not an output record (KeyError: 'weights')")):
        OutputRecord.from_dict({"components": ["g0"]}, "mixture.json")
