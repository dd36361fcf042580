"""Workers sharing a SQLite study never claim the same queued trial (optuna/optuna#4002, #4621)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import optuna
import pytest
from optuna.storages import RDBStorage

from fer3d.search.sqlite_claim import ClaimLockedSQLiteStorage
from fer3d.search.study import open_storage

WORKERS = 4
ROUNDS = 6


def _claim(url: str, locked: bool, barrier, out) -> None:
    """Wait for the other workers, then pop a queued trial as ``study.optimize`` does."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    kind = ClaimLockedSQLiteStorage if locked else RDBStorage
    storage = kind(url, engine_kwargs={"connect_args": {"timeout": 60}})
    study = optuna.load_study(study_name="s", storage=storage)
    barrier.wait()
    trial = study.ask()
    out.put(trial.number)


def _claims(tmp_path: Path, locked: bool) -> list[list[int]]:
    """For each round: the trial numbers that WORKERS racing processes got from ONE queued trial each."""
    context = multiprocessing.get_context("fork")
    rounds = []
    for round_ in range(ROUNDS):
        url = f"sqlite:///{tmp_path / f'{locked}-{round_}.db'}"
        study = optuna.create_study(study_name="s", storage=url)
        for x in range(WORKERS):
            study.enqueue_trial({"x": float(x)})
        barrier, out = context.Barrier(WORKERS), context.Queue()
        procs = [context.Process(target=_claim, args=(url, locked, barrier, out)) for _ in range(WORKERS)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        rounds.append(sorted(out.get(timeout=5) for _ in procs))
    return rounds


@pytest.mark.slow
def test_racing_workers_never_claim_the_same_queued_trial(tmp_path):
    for numbers in _claims(tmp_path, locked=True):
        assert numbers == list(range(WORKERS)), numbers  # every worker its own queued trial


@pytest.mark.slow
def test_optunas_plain_sqlite_storage_does_claim_twice(tmp_path):
    """The bug the lock fixes, so that the test above could fail: plain SQLite storage, same race."""
    rounds = _claims(tmp_path, locked=False)
    assert any(len(set(numbers)) < WORKERS for numbers in rounds), rounds


def test_open_storage_locks_claims_only_for_sqlite(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 'search.db'}")
    assert isinstance(storage, ClaimLockedSQLiteStorage)
    study = optuna.create_study(storage=storage)
    study.enqueue_trial({"x": 1.0})
    assert study.ask().number == 0 and (tmp_path / "search.db.claim-lock").exists()
