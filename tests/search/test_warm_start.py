"""Warm start: the paper's presets are a study's first trials, queued once per study."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from optuna.trial import TrialState

from fer3d.presets import PRESETS
from fer3d.search.space import warm_start_params
from fer3d.search.study import SearchSettings, create_or_load, run_search


def _settings(tmp_path: Path, base, **kw) -> SearchSettings:
    defaults = {"n_trials": 2, "threshold": 1.0, "heartbeat_interval": 1, "grace_period": 3}
    return SearchSettings("s", out_dir=tmp_path / "search", base=base, **{**defaults, **kw})


def test_presets_are_the_first_trials_and_never_queued_twice(fake_store, chance_base, tmp_path) -> None:
    settings = _settings(tmp_path, chance_base, sampler="random")
    presets = warm_start_params(chance_base, PRESETS)
    # several workers joining the study (and a restart) open it again: nothing more is queued
    for _ in range(3):
        create_or_load(fake_store, settings)
    study = run_search(fake_store, settings, progress=False)
    first = study.get_trials(deepcopy=False)
    assert [t.params for t in first] == [presets["ckplus-paper"], presets["oulu-paper"]]
    assert [t.user_attrs["warm_start"] for t in first] == ["ckplus-paper", "oulu-paper"]

    study = run_search(fake_store, replace(settings, n_trials=3), progress=False)  # resumed
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 3 and all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    assert sum(t.params in presets.values() for t in trials) == 2
    assert "warm_start" not in trials[2].user_attrs


def test_warm_start_can_be_switched_off(fake_store, chance_base, tmp_path) -> None:
    settings = _settings(tmp_path, chance_base, n_trials=1, warm_start=False, sampler="random")
    study = run_search(fake_store, settings, progress=False)
    assert "warm_start" not in study.trials[0].user_attrs
    assert study.trials[0].params not in warm_start_params(chance_base, PRESETS).values()
