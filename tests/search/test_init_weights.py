"""A search started from a model folder (``--init``): every fold warm-started, the shape-giving choices
kept at the folder's values, and the study tied to those weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fer3d.inference.final import train_final
from fer3d.inference.warm_start import WarmStart
from fer3d.search.study import SearchError, SearchSettings, create_or_load, run_search


@pytest.fixture
def folder(fake_store, tiny_base, tmp_path: Path) -> WarmStart:
    """A model trained with a non-default temporal kernel and extra block, as a search would not guess."""
    shape = {"input.size": 24, "model.temporal_kernel": 5, "model.extra_block": True}
    config = tiny_base.with_overrides(shape)
    return WarmStart.from_model_dir(train_final(fake_store, config, tmp_path / "init", progress=False))


def settings(tmp_path: Path, base, init, **kw) -> SearchSettings:
    defaults = dict(n_trials=2, threshold=0.0, protocol="kfold", k=2, warm_start=True, init_weights=init)
    return SearchSettings("s", out_dir=tmp_path / "search", base=base, **{**defaults, **kw})


def test_every_trial_keeps_the_folders_architecture_and_starts_from_it(
    fake_store, tiny_base, folder, tmp_path: Path
) -> None:
    base = tiny_base.with_overrides({"input.size": 24})
    study = run_search(fake_store, settings(tmp_path, base, folder), progress=False)
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 2 and not any(t.user_attrs.get("warm_start") for t in trials)  # no presets
    for trial in trials:
        assert trial.params["temporal_kernel"] == 5 and trial.params["extra_block"] is True
        assert trial.params["activation"] == folder.config.model.activation
        run = json.loads((Path(trial.user_attrs["run_dir"]) / "run.json").read_text())
        assert run["init"] == folder.describe()
    assert study.user_attrs["identity"]["init"] == folder.describe()


def test_a_base_config_that_does_not_fit_is_refused_before_any_trial(
    fake_store, tiny_base, folder, tmp_path: Path
) -> None:
    from fer3d.inference.model_dir import ModelFolderError

    with pytest.raises(ModelFolderError, match="input.size"):
        run_search(fake_store, settings(tmp_path, tiny_base, folder), progress=False)  # 32 px, not 24
    assert not (tmp_path / "search").exists()


def test_a_value_outside_the_space_is_a_clear_error(fake_store, tiny_base, folder, tmp_path: Path) -> None:
    class Odd:
        def architecture(self):
            return {**folder.architecture(), "model.temporal_kernel": 4}

        def describe(self):
            return {"model_dir": "odd"}

    with pytest.raises(SearchError, match="temporal_kernel 4 is not a choice"):
        create_or_load(fake_store, settings(tmp_path, tiny_base, Odd()))
