"""SIGKILL at seeded random moments, then the same command again: every fold and trial is done exactly
once, no worker outlives its launcher, no temporary folder looks complete.

CI runs one kill point per command (evaluate with 2 workers, search with 2 workers on SQLite); the full
set (5 points each, transfer, nested and PostgreSQL too) runs with FER3D_FAULTS_FULL=1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from faults.helpers import kill_after, run_cli, tiny_args, write_store

FULL = os.environ.get("FER3D_FAULTS_FULL") == "1"
POINTS = int(os.environ.get("FER3D_FAULTS_POINTS", 5 if FULL else 1))
full_only = pytest.mark.skipif(not FULL, reason="full fault set: FER3D_FAULTS_FULL=1")
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_store(tmp_path_factory.mktemp("kills") / "cache", subjects=4)


def _delays(seed: int, low: float, high: float) -> list[float]:
    return sorted(np.random.default_rng(seed).uniform(low, high, POINTS).round(2).tolist())


def _kill_then_finish(args: list, delays: list[float], tmp_path: Path) -> int:
    """Kill a run at each delay in turn (each one resuming the last), then run it to the end."""
    log = tmp_path / "runs.log"
    killed = []
    for delay in delays:
        was_killed, left = kill_after(args, delay, log, env=ENV)
        assert not left, f"worker(s) {left} outlived their launcher killed at {delay} s"
        killed.append(was_killed)
    done = run_cli(*args, env=ENV, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in log.read_text(errors="replace")
    return sum(killed)


def _count(tally, suite: str, killed: int) -> None:
    """Every kill point whose rerun then passed the checks: a kill survived with nothing lost."""
    for _ in range(killed):
        tally.add(suite, "kill_survived")


def _no_complete_temporaries(out: Path) -> None:
    """A temporary left by a kill is hidden and holds no completion marker a reader would take."""
    for tmp in out.rglob("*.tmp-*"):
        if tmp.is_dir():
            assert not any((tmp / m).exists() for m in ("meta.json", "fer3d-model.json", "metrics.json")), tmp


def _folds_once(run: Path, n_folds: int, n_clips: int | None = None) -> None:
    names = sorted(p.name for p in (run / "folds").glob("fold_*.json") if "config" not in p.name)
    assert names == [f"fold_{i:03d}.json" for i in range(n_folds)], names
    tested = [i for name in names for i in json.loads((run / "folds" / name).read_text())["test_indices"]]
    assert len(tested) == len(set(tested)), "a clip was tested twice"
    if n_clips is not None:
        assert sorted(tested) == list(range(n_clips))
    assert json.loads((run / "metrics.json").read_text())["n_tested"] == len(tested)


@pytest.mark.slow
def test_evaluate_with_two_workers_survives_kills(store, tmp_path, tally):
    out = tmp_path / "run"
    args = ["evaluate", store.path, "-o", out, "--k", "4", "--workers", "2", *tiny_args()]
    killed = _kill_then_finish(args, _delays(1, 3.0, 12.0), tmp_path)
    _folds_once(out, 4, len(store))
    _no_complete_temporaries(out)
    _count(tally, "kill: evaluate", killed)


def _search_args(store, out: Path, storage: str | None) -> list:
    args = [
        "search", store.path, "--study", "kills", "-o", out, "--n-trials", "4", "--jobs", "2",
        "--protocol", "kfold", "--k", "2", "--heartbeat", "1", "--grace", "3", "--no-progress", *tiny_args(),
    ]  # fmt: skip
    return args + (["--storage", storage] if storage else [])


def _study_done_once(storage: str, n_trials: int, name: str = "kills") -> None:
    import optuna
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == n_trials, [(t.number, t.state.name) for t in trials]
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


@pytest.mark.slow
def test_search_with_two_workers_on_sqlite_survives_kills(store, tmp_path, tally):
    out = tmp_path / "search"
    killed = _kill_then_finish(_search_args(store, out, None), _delays(2, 4.0, 20.0), tmp_path)
    _study_done_once(f"sqlite:///{out / 'search.db'}", 4)
    _no_complete_temporaries(out)
    _count(tally, "kill: search sqlite", killed)


@pytest.mark.slow
@full_only
def test_search_with_two_workers_on_postgres_survives_kills(store, tmp_path, tally):
    url = os.environ.get("FER3D_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("FER3D_TEST_POSTGRES_URL is not set (scripts/test_services.sh starts the server)")
    import uuid

    study = f"kills-{uuid.uuid4().hex[:8]}"  # a new study each run: the server outlives the test
    out = tmp_path / "search"
    args = [study if a == "kills" else a for a in _search_args(store, out, url)]
    killed = _kill_then_finish(args, _delays(3, 4.0, 20.0), tmp_path)
    _study_done_once(url, 4, study)
    _count(tally, "kill: search postgres", killed)


@pytest.mark.slow
@full_only
def test_transfer_survives_kills(store, tmp_path, tally):
    out = tmp_path / "transfer"
    args = ["transfer", "--source-cache", store.path, "--target-cache", store.path, "-o", out, "--k", "2"]
    killed = _kill_then_finish(args + tiny_args(), _delays(4, 3.0, 15.0), tmp_path)
    for arm in ("scratch", "finetuned"):
        _folds_once(out / arm, 2, len(store))
    assert json.loads((out / "transfer.json").read_text())["rows"]
    _no_complete_temporaries(out)
    _count(tally, "kill: transfer", killed)


@pytest.mark.slow
@full_only
def test_nested_survives_kills(store, tmp_path, tally):
    out = tmp_path / "nested"
    args = [
        "nested", store.path, "-o", out, "--k", "2", "--n-trials", "2", "--inner-protocol", "loso",
        *tiny_args(),
    ]  # fmt: skip
    killed = _kill_then_finish(args, _delays(5, 3.0, 20.0), tmp_path)
    _folds_once(out, 2, len(store))
    chosen = json.loads((out / "nested.json").read_text())["chosen"]
    assert sorted(c["fold"] for c in chosen) == [0, 1]
    _no_complete_temporaries(out)
    _count(tally, "kill: nested", killed)
