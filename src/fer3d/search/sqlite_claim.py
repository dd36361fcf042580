"""SQLite storage whose workers never claim the same queued trial.

Optuna claims a queued (WAITING) trial by reading its state and setting it to RUNNING. PostgreSQL locks
the row while it does (``SELECT ... FOR UPDATE``); SQLite ignores that, so two workers that pop the same
queued trial at the same moment both see it waiting and both run it, and the second to finish fails
with "Cannot tell a COMPLETE trial" (optuna/optuna#4002, #4621; reproduced in
``tests/search/test_sqlite_claim.py``). With ``--jobs N`` the warm start's queued presets hit this at
the start of every search. Here the claim runs under an exclusive file lock beside the database, so
the second worker reads the first one's RUNNING and moves on. SQLite is a one-host database, so a
host-local lock covers every worker that can share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optuna.storages import RDBStorage
from optuna.trial import TrialState

try:
    import fcntl
except ImportError:  # Windows: no flock; one worker per SQLite study is safe there
    fcntl = None  # type: ignore[assignment]


class ClaimLockedSQLiteStorage(RDBStorage):
    """:class:`RDBStorage` for a ``sqlite:///`` URL whose WAITING -> RUNNING claims are serialised."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._lock_path = Path(url.removeprefix("sqlite:///") + ".claim-lock")

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        if state != TrialState.RUNNING or fcntl is None:
            return super().set_trial_state_values(trial_id, state, values)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            return super().set_trial_state_values(trial_id, state, values)
