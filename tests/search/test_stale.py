"""A running trial whose worker on this host has ended is failed and requeued at once, not after the
heartbeat's grace period; other trials are left alone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import optuna
from optuna.trial import TrialState

from fer3d.search.objective import WORKER
from fer3d.search.stale import RECLAIMS, process_alive, reclaim_dead_local_trials


def _ended_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # exited and reaped: its pid names no process now
    return child.pid


def test_only_the_trials_of_dead_local_workers_are_reclaimed(tmp_path: Path) -> None:
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", direction="maximize")
    host = socket.gethostname()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owners = {
            "dead here": f"{host}:{_ended_pid()}",
            "alive here": f"{host}:{alive.pid}",
            "elsewhere": f"another-host-{host}:{_ended_pid()}",
            "dead, reclaimed twice before": f"{host}:{_ended_pid()}",
        }
        trials = {}
        for name, owner in owners.items():
            trial = study.ask()
            trial.suggest_float("x", 0.0, 1.0)
            trial.set_user_attr(WORKER, owner)
            trials[name] = trial.number
        study._storage.set_trial_user_attr(
            study.trials[trials["dead, reclaimed twice before"]]._trial_id, RECLAIMS, 2
        )
        reclaimed = reclaim_dead_local_trials(study, max_retry=2)
        assert sorted(reclaimed) == sorted([trials["dead here"], trials["dead, reclaimed twice before"]])
        states = {name: study.trials[number].state for name, number in trials.items()}
        assert states == {
            "dead here": TrialState.FAIL,
            "alive here": TrialState.RUNNING,
            "elsewhere": TrialState.RUNNING,  # left to the heartbeat
            "dead, reclaimed twice before": TrialState.FAIL,
        }
        waiting = study.get_trials(states=(TrialState.WAITING,))
        assert len(waiting) == 1  # the twice-reclaimed trial is not queued a third time
        assert waiting[0].system_attrs["fixed_params"] == study.trials[trials["dead here"]].params
        assert waiting[0].user_attrs[RECLAIMS] == 1
        assert reclaim_dead_local_trials(study) == []  # nothing twice
    finally:
        alive.kill()
        alive.wait()


def test_process_alive() -> None:
    assert process_alive(os.getpid())
    assert not process_alive(_ended_pid())
