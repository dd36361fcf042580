from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from fer3d.cli.common import resolve_config
from fer3d.search.objective import FOLD_ACCURACIES
from fer3d.search.study import SearchError, SearchSettings, best_config, load_study, run_search


def _settings(tmp_path: Path, base, **kw) -> SearchSettings:
    defaults = {"n_trials": 2, "threshold": 0.0, "heartbeat_interval": 1, "grace_period": 3}
    return SearchSettings("s", out_dir=tmp_path / "search", base=base, **{**defaults, **kw})


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))


def test_n_trials_is_the_study_total_across_runs(fake_store, chance_base, tmp_path: Path) -> None:
    settings = _settings(tmp_path, chance_base, threshold=1.0)  # pruned at once: a cheap trial
    assert len(_finished(run_search(fake_store, settings, progress=False))) == 2
    assert len(_finished(run_search(fake_store, settings, progress=False))) == 2  # already done: no new trial
    study = run_search(fake_store, replace(settings, n_trials=3), progress=False)
    assert [t.number for t in _finished(study)] == [0, 1, 2]
    assert (tmp_path / "search" / "search.db").is_file()


def test_restarted_search_draws_new_parameters(fake_store, chance_base, tmp_path: Path) -> None:
    settings = _settings(tmp_path, chance_base, threshold=1.0, sampler="random", n_trials=1)
    run_search(fake_store, settings, progress=False)
    study = run_search(fake_store, replace(settings, n_trials=2), progress=False)
    first, second = (t.params for t in _finished(study))
    assert first != second


def test_same_seed_same_parameters(fake_store, chance_base, tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        settings = replace(_settings(tmp_path / name, chance_base, threshold=1.0), sampler="tpe", seed=7)
        runs.append([t.params for t in run_search(fake_store, settings, progress=False).trials])
    assert runs[0] == runs[1]


def test_best_config_round_trips_through_evaluates_loader(fake_store, tiny_base, tmp_path: Path) -> None:
    study = run_search(fake_store, _settings(tmp_path, tiny_base, n_trials=1), progress=False)
    config = best_config(study)
    assert config.to_dict() == study.best_trial.user_attrs["config"]
    config.to_json(tmp_path / "best.json")
    assert resolve_config(None, tmp_path / "best.json", "full", None) == config


def test_best_config_needs_a_completed_trial(fake_store, chance_base, tmp_path: Path) -> None:
    settings = _settings(tmp_path, chance_base, threshold=1.0, n_trials=1)
    study = run_search(fake_store, settings, progress=False)
    assert study.trials[0].state == TrialState.PRUNED
    with pytest.raises(SearchError, match="no completed trial"):
        best_config(load_study("s", settings.storage_url))


def test_resuming_with_other_settings_is_refused(fake_store, chance_base, tmp_path: Path) -> None:
    settings = _settings(tmp_path, chance_base, threshold=1.0, n_trials=1)
    run_search(fake_store, settings, progress=False)
    with pytest.raises(SearchError, match="threshold"):
        run_search(fake_store, replace(settings, threshold=0.5), progress=False)


def test_subset_restricts_the_folds_to_its_subjects(fake_store, tiny_base, tmp_path: Path) -> None:
    keep = np.flatnonzero(np.isin(fake_store.subjects, ["S001", "S002", "S003"]))
    study = run_search(fake_store, _settings(tmp_path, tiny_base, n_trials=1), subset=keep, progress=False)
    assert len(study.trials[0].user_attrs[FOLD_ACCURACIES]) == 3


def test_each_fold_of_a_trial_is_reported_as_it_finishes(fake_store, tiny_base, tmp_path: Path) -> None:
    """What a search worker sends its launcher for the per-trial progress line."""
    steps: list[tuple[int, int, int]] = []
    settings = _settings(tmp_path, tiny_base, n_trials=1, protocol="kfold", k=2)
    run_search(fake_store, settings, progress=False, on_trial_step=lambda *step: steps.append(step))
    assert steps == [(0, 1, 2), (0, 2, 2)]


def test_a_surplus_trial_is_not_logged_as_a_failure() -> None:
    import logging

    from fer3d.search.study import _quiet_surplus

    logger = logging.getLogger("optuna.study._optimize")
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger.addHandler(handler)
    try:
        with _quiet_surplus():
            logger.warning(
                "Trial 3 failed with parameters: {} because of the following error: SurplusTrialError()"
            )
            logger.warning("Trial 3 failed with value None.")
            logger.warning("Trial 4 failed with value None.")  # a real failure still shows
        logger.warning("Trial 3 failed with value None.")  # outside a search: left alone
    finally:
        logger.removeHandler(handler)
    assert seen == ["Trial 4 failed with value None.", "Trial 3 failed with value None."]
