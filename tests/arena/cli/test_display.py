"""arena/cli/display.py: what the terminal shows of a run."""

from __future__ import annotations


def test_event_lines_show_the_numbers_of_a_record():
    from arena.cli.display import event_line

    record = {"kind": "eval", "matching": 2, "rounds": 10, "agent": "output", "modes": 8, "high_quality": 97.25,
              "acceptance": 0.5, "judges": ["d0", "d1"], "protocol": {"samples": 2500}}
    assert event_line(record) == "matching 2: output: modes 8, high_quality 97.2, acceptance 0.5"
    assert event_line({"kind": "eval", "matching": 2, "rounds": 10, "agent": "mixture", "modes": 8}) is None
    assert event_line({"kind": "warning", "matching": 2, "rounds": 10, "message": "m"}) == "warning: m"
