"""Nested CV: the inner search and the scoring model never see an outer test clip before scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer3d.evaluation import crossval
from fer3d.evaluation.nested import nested_cv
from fer3d.presets import get_config
from fer3d.search.inner_search import OptunaInnerSearch
from fer3d.search.study import SearchSettings


class Spy(OptunaInnerSearch):
    """The Optuna inner search, recording every training call (train and test indices) tagged with the
    outer fold being worked on, and the clips each inner search was given."""

    def __init__(self, settings: SearchSettings, monkeypatch) -> None:
        super().__init__(settings)
        calls: list[tuple[int, np.ndarray, np.ndarray]] = []
        searches: list[tuple[int, np.ndarray]] = []
        object.__setattr__(self, "calls", calls)  # the search is a frozen dataclass
        object.__setattr__(self, "searches", searches)
        real = crossval.train_and_predict

        def spy(store, config, train_idx, test_idx, **kwargs):
            outer = searches[-1][0] if searches else -1
            calls.append((outer, np.asarray(train_idx), np.asarray(test_idx)))
            return real(store, config, train_idx, test_idx, **kwargs)

        monkeypatch.setattr(crossval, "train_and_predict", spy)

    def choose(self, store, subset, out_dir, index):
        self.searches.append((index, np.asarray(subset)))
        return super().choose(store, subset, out_dir, index)


def test_nested_never_shows_outer_test_clips_to_search_or_training(
    fake_store, tmp_path: Path, monkeypatch
) -> None:
    base = get_config("ckplus-paper", "tiny", {"train.epochs": 1})
    settings = SearchSettings(
        study_name="nested",
        out_dir=tmp_path / "unused",
        base=base,
        n_trials=1,
        threshold=0.0,
        protocol="loso",
        pruner="none",
        device="cpu",
    )
    spy = Spy(settings, monkeypatch)
    out = tmp_path / "nested"
    result = nested_cv(fake_store, spy, k=2, out_dir=out, device="cpu", progress=False)
    assert len(result.folds) == 2
    assert sorted(result.tested.tolist()) == list(range(len(fake_store)))  # every clip scored exactly once
    for fold in result.folds:
        outer_test = set(fold.test_indices)
        subset = next(s for o, s in spy.searches if o == fold.fold)
        assert not outer_test & set(subset.tolist())
        calls = [(tr, te) for o, tr, te in spy.calls if o == fold.fold]
        assert len(calls) >= 2  # inner search folds, then the scoring model
        *inner, (final_train, final_test) = calls
        for train, test in inner:
            assert not outer_test & set(train.tolist()) and not outer_test & set(test.tolist())
        assert not outer_test & set(final_train.tolist())
        assert set(final_test.tolist()) == outer_test
        test_subjects = set(fake_store.subjects[fold.test_indices].tolist())
        assert not test_subjects & set(fake_store.subjects[final_train].tolist())
    assert (out / "outer_000" / "search.db").exists() and (out / "nested.json").exists()
    assert crossval.load_result(out).pooled_accuracy == pytest.approx(result.pooled_accuracy)

    spy.calls.clear()
    again = nested_cv(fake_store, spy, k=2, out_dir=out, device="cpu", progress=False)
    assert spy.calls == [] and again.pooled_accuracy == pytest.approx(
        result.pooled_accuracy
    )  # resumed, not rerun
