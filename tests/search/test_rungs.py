"""Cheap rungs before the objective: their configs and folds, the order of exact and rung pruning, and
resuming a killed multi-fidelity search without training a finished fold again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from optuna.trial import TrialState

from fer3d.presets import get_config
from fer3d.search.objective import FOLDS_TRAINED, PRUNED_AT, PRUNED_BY, RUN_DIR, RUNG_SCORES
from fer3d.search.rungs import Rung, RungSchedule, verdict
from fer3d.search.study import SearchError, SearchSettings, run_search


def test_rung_config_scales_epochs_ramp_and_size() -> None:
    base = get_config("ckplus-paper", "cpu")  # 28 epochs, ramp 14
    cheap = Rung(k=5, epochs=0.5).config(base)
    assert (cheap.train.epochs, cheap.train.augment.ramp_epochs) == (14, 7)
    assert cheap.input == base.input and cheap.model == base.model
    assert Rung(epochs=0.01).config(base).train.epochs == 1
    assert Rung(size=24).config(base).input.size == 24
    assert Rung().config(base).fingerprint() != base.fingerprint()
    assert Rung(k=5, epochs=0.5, size=24).name == "kfold5-epochs0.5-size24"
    with pytest.raises(ValueError, match="epoch fraction"):
        Rung(epochs=0.0)


def test_rung_folds_keep_subjects_whole_and_stay_in_the_subset() -> None:
    rng = np.random.default_rng(0)
    subjects = np.repeat([f"S{i:02d}" for i in range(12)], 3)
    labels = rng.integers(0, 3, len(subjects))
    subset = np.flatnonzero(~np.isin(subjects, ["S00", "S01"]))
    folds = Rung(k=5).folds(labels, subjects, seed=0, subset=subset)
    assert len(folds) == 5
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == subset.tolist()
    for fold in folds:
        assert set(fold.train) <= set(subset.tolist())
        assert not set(subjects[fold.train]) & set(subjects[fold.test])


class _Trial:
    """Stands for an Optuna trial: counts how often the rung pruner is asked."""

    def __init__(self, prune: bool) -> None:
        self.prune, self.asked = prune, 0

    def should_prune(self) -> bool:
        self.asked += 1
        return self.prune


def test_exact_pruning_comes_first_and_the_rung_pruner_only_at_a_rung_end() -> None:
    trial = _Trial(prune=False)
    assert verdict(trial, exact_stop=True, at_rung_end=True) == "exact"
    assert trial.asked == 0  # a trial exact pruning stopped is never shown to the rung pruner
    assert verdict(trial, exact_stop=False, at_rung_end=False) is None
    assert trial.asked == 0
    assert verdict(trial, exact_stop=False, at_rung_end=True) is None and trial.asked == 1
    assert verdict(_Trial(prune=True), exact_stop=False, at_rung_end=True) == "rung"


def _settings(tmp_path: Path, base, **kw) -> SearchSettings:
    defaults = {
        "n_trials": 3,
        "threshold": 1.0,
        "heartbeat_interval": 1,
        "grace_period": 3,
        "fidelity": "rungs",
        "rungs": RungSchedule((Rung(k=2, epochs=1.0),), reduction_factor=2),
        "sampler": "random",
    }
    return SearchSettings("s", out_dir=tmp_path / "search", base=base, **{**defaults, **kw})


def test_rung_pruner_never_promotes_a_trial_that_exact_pruning_stopped(
    fake_store, chance_base, tmp_path: Path
) -> None:
    # threshold 1.0: a promoted trial is stopped by exact pruning at its first LOSO fold unless that fold is
    # all right; the first trial is always promoted (the best its rung has seen)
    study = run_search(fake_store, _settings(tmp_path, chance_base), progress=False)
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 3
    by = [t.user_attrs.get(PRUNED_BY) for t in trials]
    assert "exact" in by and "rung" in by
    for t in trials:
        assert len(t.user_attrs[RUNG_SCORES]) == 1
        assert "completed_rung_0" in t.system_attrs  # the cheap rung was finished and judged
        # no record of a rung past the one the trial finished: the objective's folds are judged by
        # exact pruning alone, never by the rung pruner
        assert "completed_rung_1" not in t.system_attrs
        objective_folds = list((Path(t.user_attrs[RUN_DIR]) / "folds").glob("fold_*.json"))
        if t.user_attrs.get(PRUNED_BY) == "exact":
            assert t.state == TrialState.PRUNED
            assert t.user_attrs[PRUNED_AT] == 0 and len(objective_folds) == 1
            assert max(t.intermediate_values) == 2  # objective steps start after the rung's (2 ** 1)
        elif t.user_attrs.get(PRUNED_BY) == "rung":
            assert t.state == TrialState.PRUNED
            assert PRUNED_AT not in t.user_attrs and not objective_folds
        else:  # promoted, and every LOSO fold right: it reached the threshold
            assert t.state == TrialState.COMPLETE and t.value == 1.0 and len(objective_folds) == 6


def test_rungs_refuse_optuna_pruners_and_resume_with_other_rungs(
    fake_store, chance_base, tmp_path: Path
) -> None:
    with pytest.raises(SearchError, match="drop --pruner median"):
        _settings(tmp_path, chance_base, pruner="median")
    settings = _settings(tmp_path, chance_base, n_trials=1)
    run_search(fake_store, settings, progress=False)
    other = _settings(tmp_path, chance_base, n_trials=1, rungs=RungSchedule((Rung(k=3, epochs=1.0),)))
    with pytest.raises(SearchError, match="rungs"):
        run_search(fake_store, other, progress=False)


_WORKER = """
import sys
from pathlib import Path
from fer3d.config import ExperimentConfig
from fer3d.data.cache import ClipStore
from fer3d.search.rungs import Rung, RungSchedule
from fer3d.search.study import SearchSettings, run_search
store = ClipStore.open(sys.argv[1])
base = ExperimentConfig.from_json(sys.argv[2])
settings = SearchSettings(
    "s", out_dir=Path(sys.argv[3]), base=base, n_trials=1, threshold=0.0, heartbeat_interval=1,
    grace_period=3, fidelity="rungs", rungs=RungSchedule((Rung(k=3, epochs=1.0),)), warm_start=False,
    protocol="kfold", k=3,
)
run_search(store, settings, progress=False)
"""
RUNG_FOLDS, OBJECTIVE_FOLDS = 3, 3  # the objective is a subject 3-fold here, to keep the test short


def _fold_files(out: Path, part: str) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in (out / part).glob("**/folds/fold_*.json")}


def _run_and_kill(fake_store, base_json: Path, out: Path, part: str, count: int) -> None:
    """Run the search in a process and SIGKILL it once ``count`` folds of ``part`` are saved."""
    child = subprocess.Popen(
        [sys.executable, "-c", _WORKER, str(fake_store.path), str(base_json), str(out)],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + 240
        while len(_fold_files(out, part)) < count:
            assert child.poll() is None, "the search ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    time.sleep(3.5)  # the killed trial's heartbeat goes stale (grace 3 s): the next run retries it


@pytest.mark.slow
def test_a_search_killed_mid_rung_loses_no_finished_rung_or_fold(
    fake_store, tiny_base, tmp_path: Path
) -> None:
    out, base_json = tmp_path / "search", tmp_path / "base.json"
    base_json.write_text(json.dumps(tiny_base.to_dict()))

    # killed in the cheap rung, after its first fold
    _run_and_kill(fake_store, base_json, out, "rungs", 1)
    first = _fold_files(out, "rungs")
    assert 1 <= len(first) < RUNG_FOLDS, "killed after the rung had finished: not mid-rung"

    # the retried trial finishes the rung without training its saved folds again; killed in the objective
    _run_and_kill(fake_store, base_json, out, "trials", 1)
    rung = _fold_files(out, "rungs")
    assert len(rung) == RUNG_FOLDS and all(rung[p] == t for p, t in first.items())
    objective = _fold_files(out, "trials")
    assert 1 <= len(objective) < OBJECTIVE_FOLDS

    settings = SearchSettings(
        "s",
        out_dir=out,
        base=tiny_base,
        n_trials=1,
        threshold=0.0,
        heartbeat_interval=1,
        grace_period=3,
        fidelity="rungs",
        rungs=RungSchedule((Rung(k=RUNG_FOLDS, epochs=1.0),)),
        warm_start=False,
        protocol="kfold",
        k=OBJECTIVE_FOLDS,
    )
    study = run_search(fake_store, settings, progress=False)
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    assert len(done) == 1 and [t.state for t in study.trials].count(TrialState.FAIL) == 2
    after = {**_fold_files(out, "rungs"), **_fold_files(out, "trials")}
    assert all(after[p] == t for p, t in {**rung, **objective}.items())  # nothing finished was retrained
    assert len(_fold_files(out, "trials")) == OBJECTIVE_FOLDS
    assert done[0].user_attrs[FOLDS_TRAINED] == OBJECTIVE_FOLDS - len(objective)
    assert len(done[0].user_attrs[RUNG_SCORES]) == 1
