"""The fault suite's tally: every case records its outcome; with FER3D_FAULTS_SUMMARY=FILE the counts
are written there as JSON at the end of the session (experiments/fault_figure.py reads them)."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

OUTCOMES = ("ok", "clear_error", "skip", "traceback", "hang", "data_loss", "kill_survived", "kill_lost")


class Tally:
    def __init__(self) -> None:
        self.counts: dict[str, Counter] = {}

    def add(self, suite: str, outcome: str) -> None:
        assert outcome in OUTCOMES, outcome
        self.counts.setdefault(suite, Counter())[outcome] += 1


@pytest.fixture(scope="session")
def tally():
    found = Tally()
    yield found
    target = os.environ.get("FER3D_FAULTS_SUMMARY")
    if target:
        Path(target).write_text(json.dumps({s: dict(c) for s, c in sorted(found.counts.items())}, indent=1))
