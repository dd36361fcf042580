"""Worker processes end when the process that started them ends.

Fold workers and search workers are started by one fer3d process. Ctrl-C reaches the whole process
group, but a ``kill`` of that process alone (or its crash, or a scheduler ending the job) used to leave
them training on, holding every core: measured, the two fold workers of a killed 10-fold run trained
for another 35 minutes. Each worker now watches its parent and exits once it is gone; finished folds
and trials are already saved, so the same command resumes.
"""

from __future__ import annotations

import os
import threading
import time

PARENT_PID_ENV = "FER3D_PARENT_PID"  # set by a parent for the worker processes it launches


def exit_with_parent(parent_pid: int | None, interval_s: float = 1.0) -> None:
    """Exit this process as soon as ``parent_pid`` is no longer its parent (the parent has ended)."""
    if parent_pid is None:
        return

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os._exit(1)  # orphaned: nothing will collect this worker's results

    threading.Thread(target=watch, name="fer3d-parent-watch", daemon=True).start()


def parent_from_env() -> int | None:
    """The parent pid a launching fer3d process put in the environment, if any."""
    value = os.environ.get(PARENT_PID_ENV, "")
    return int(value) if value.isdigit() else None
