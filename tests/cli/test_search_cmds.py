"""`fer3d search` and `fer3d best` through a subprocess: resume after SIGKILL, workers sharing a study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from fer3d.cli.common import resolve_config
from fer3d.config import ExperimentConfig
from fer3d.search.objective import CONFIG, FOLDS_TRAINED, RUN_DIR, WORKER

FER3D = [sys.executable, "-c", "from fer3d.cli import main; main()"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _search_args(store, study: str, out: Path, n_trials: int, threshold: float, *extra: str) -> list[str]:
    return [
        *FER3D, "search", str(store.path), "--study", study, "--n-trials", str(n_trials),
        "--threshold", str(threshold), "--profile", "tiny", "--set", "train.epochs=1", "-o", str(out),
        "--heartbeat", "1", "--grace", "3", "--threads", "1", "--no-progress", "--jobs", "1", *extra,
    ]  # fmt: skip


def _load(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)


def _fold_started(url: str, name: str) -> bool:
    """At least one trial finished and the running trial has saved a fold."""
    try:
        trials = _load(url, name).get_trials(deepcopy=False)
    except (KeyError, Exception):  # the database may not exist yet
        return False
    if not any(t.state in FINISHED for t in trials):
        return False
    for t in trials:
        running = t.state == TrialState.RUNNING and RUN_DIR in t.user_attrs
        if running and any((Path(t.user_attrs[RUN_DIR]) / "folds").glob("fold_*.json")):
            return True
    return False


@pytest.mark.slow
def test_sigkill_mid_trial_then_same_command_resumes(fake_store, tmp_path: Path) -> None:
    out = tmp_path / "search"
    url = f"sqlite:///{(out / 'search.db').resolve()}"
    args = _search_args(fake_store, "resume", out, n_trials=3, threshold=0.0)
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not _fold_started(url, "resume"):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the search never reached its second trial"
            time.sleep(0.2)
        before = {t.number: t for t in _load(url, "resume").get_trials() if t.state in FINISHED}
        killed = next(t for t in _load(url, "resume").get_trials() if t.state == TrialState.RUNNING)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    rerun = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    trials = _load(url, "resume").get_trials()
    finished = [t for t in trials if t.state in FINISHED]
    assert len(finished) == 3
    # Finished trials are all still there, unchanged, and none was run again.
    for number, old in before.items():
        assert trials[number].state == old.state and trials[number].value == old.value
    fingerprints = [ExperimentConfig.from_dict(t.user_attrs[CONFIG]).fingerprint() for t in finished]
    assert len(set(fingerprints)) == len(fingerprints)
    # The killed trial was failed (heartbeat) and retried with its parameters, resuming its saved folds.
    assert trials[killed.number].state == TrialState.FAIL
    retried = [t for t in finished if t.params == killed.params]
    assert len(retried) == 1 and retried[0].number > killed.number
    assert retried[0].user_attrs[FOLDS_TRAINED] < len(set(fake_store.subjects))


def test_best_writes_a_config_that_evaluate_accepts(fake_store, tmp_path: Path) -> None:
    out = tmp_path / "search"
    run = subprocess.run(_search_args(fake_store, "b", out, 1, 0.0), env=ENV, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "best: trial 0" in run.stdout
    assert run.stdout.count("study b:") == 1  # the summary, once
    best = subprocess.run(
        [*FER3D, "best", "b", "-o", str(out), "--output", str(tmp_path / "best.json")],
        env=ENV, capture_output=True, text=True,
    )  # fmt: skip
    assert best.returncode == 0, best.stderr
    trial = _load(f"sqlite:///{(out / 'search.db').resolve()}", "b").best_trial
    config = resolve_config(None, tmp_path / "best.json", "full", None)  # what `evaluate --config` does
    assert config.to_dict() == trial.user_attrs[CONFIG]
    again = subprocess.run(best.args, env=ENV, capture_output=True, text=True)  # its own output: replaced
    assert again.returncode == 0, again.stderr
    paper = tmp_path / "paper.txt"
    paper.write_text("my notes")
    foreign = subprocess.run(
        [*FER3D, "best", "b", "-o", str(out), "--output", str(paper)], env=ENV, capture_output=True, text=True
    )
    assert foreign.returncode == 2 and "paper.txt" in foreign.stderr
    assert paper.read_text() == "my notes"


def test_best_of_an_unknown_study_is_a_clear_error(fake_store, tmp_path: Path) -> None:
    missing = subprocess.run(
        [*FER3D, "best", "x", "-o", str(tmp_path)], env=ENV, capture_output=True, text=True
    )
    assert missing.returncode == 2
    assert "search.db does not exist" in missing.stderr


@pytest.mark.slow
def test_jobs_share_one_study(fake_store, tmp_path: Path) -> None:
    out = tmp_path / "search"
    args = _search_args(fake_store, "jobs", out, 4, 1.0, "--jobs", "2", "--set", "train.lr=1e-7")
    run = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    trials = _load(f"sqlite:///{(out / 'search.db').resolve()}", "jobs").get_trials()
    assert len([t for t in trials if t.state in FINISHED]) == 4
    assert run.stdout.count("study jobs:") == 1  # printed by the launcher only, not by each worker


@pytest.mark.postgres
def test_two_workers_share_a_postgres_study(fake_store, tmp_path: Path) -> None:
    url = os.environ.get("FER3D_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("FER3D_TEST_POSTGRES_URL is not set: scripts/postgres.sh did not start PostgreSQL")
        pytest.skip("FER3D_TEST_POSTGRES_URL is not set (run the suite through scripts/run_tests.sh)")
    name = f"dist-{uuid.uuid4().hex[:8]}"
    n_trials = 4
    procs = [
        subprocess.Popen(
            _search_args(
                fake_store, name, tmp_path / f"w{i}", n_trials, 0.0, "--storage", url, "--seed", "0"
            ),
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    errors = [p.communicate(timeout=400)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    trials = _load(url, name).get_trials()
    finished = [t for t in trials if t.state in FINISHED]
    assert len(finished) == n_trials
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert len({t.user_attrs[WORKER] for t in finished}) == 2  # both workers ran trials
    assert all(t.state in FINISHED or t.state == TrialState.FAIL for t in trials)
