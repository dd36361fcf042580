"""Trials left running by a dead worker of this host: failed and requeued at once.

Optuna finds a killed worker's trial by its missing heartbeat, only after the grace period (minutes, so
that a slow worker elsewhere is not robbed of its trial). A trial whose worker ran on this host can be
checked directly: if that process is gone, its trial is failed and its parameters queued again now
(the retried trial resumes the folds it saved). A pid reused by another process only delays this to
the heartbeat's grace period.
"""

from __future__ import annotations

import os
import socket

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from fer3d.search.objective import WORKER

RECLAIMS = "reclaims"  # user attribute: how often this trial's parameters were reclaimed before


def reclaim_dead_local_trials(study: optuna.Study, max_retry: int = 2) -> list[int]:
    """Fail the running trials whose worker (``host:pid``) ran on this host and has ended, and queue their
    parameters again unless they were reclaimed ``max_retry`` times already. Returns the failed trials."""
    host = socket.gethostname()
    reclaimed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner_host, _, pid = str(trial.user_attrs.get(WORKER, "")).rpartition(":")
        if owner_host != host or not pid.isdigit() or int(pid) == os.getpid() or process_alive(int(pid)):
            continue
        try:
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except UpdateFinishedTrialError:
            continue  # another worker of this host reclaimed it first
        reclaimed.append(trial.number)
        reclaims = int(trial.user_attrs.get(RECLAIMS, 0))
        if reclaims < max_retry:
            study.enqueue_trial(
                trial.params, user_attrs={"requeued_from": trial.number, RECLAIMS: reclaims + 1}
            )
    return reclaimed


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and has not exited (a zombie has)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True  # no /proc: existence is all that can be told
