"""arena/tournament/loop.py: the loop's own state (checkpoints of it, and their format), the order
of what it tells its callbacks."""

from __future__ import annotations

import re

import pytest

from arena.config import parse_config
from arena.core.errors import CheckpointError
from arena.engine.arena import build_arena
from arena.tournament.loop import CHECKPOINT_FORMAT, Tournament
from tests.conftest import tiny_raw


def test_a_checkpoint_of_a_newer_format_is_refused_in_one_line():
    raw = tiny_raw(schedule={"matchings": 2, "steps_per_match": 2})
    t = Tournament(build_arena(parse_config(raw)))
    t.run()
    state = t.state_dict()
    assert state["format"] == CHECKPOINT_FORMAT
    fresh = Tournament(build_arena(parse_config(raw)))
    fresh.load_state_dict(state)  # its own format loads
    assert fresh.completed == 2
    state["format"] = CHECKPOINT_FORMAT + 1
    with pytest.raises(CheckpointError, match=re.escape(f"the checkpoint of matching 2 has format {CHECKPOINT_FORMAT + 1}, "
                                                        f"newer than the {CHECKPOINT_FORMAT} this gan-arena reads; "
                                                        "upgrade gan-arena to load it")):
        Tournament(build_arena(parse_config(raw))).load_state_dict(state)
