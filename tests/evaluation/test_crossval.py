import json

import numpy as np
import pytest

from fer3d.evaluation import crossval
from fer3d.evaluation.crossval import RunMismatchError, cross_validate, load_result
from fer3d.presets import get_config

TINY = get_config("ckplus-paper", "tiny", {"input.size": 24, "train.epochs": 1})


def test_kfold_tests_every_clip_once_and_writes_results(fake_store, tmp_path):
    result = cross_validate(fake_store, TINY, "kfold", k=3, out_dir=tmp_path / "run", progress=False)
    assert sorted(result.tested.tolist()) == list(range(len(fake_store)))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n_tested"] == len(fake_store)
    assert np.array(metrics["confusion_matrix"]).sum() == len(fake_store)
    assert 0 <= metrics["pooled_accuracy"] <= 1
    predictions = json.loads((tmp_path / "run" / "predictions.json").read_text())
    assert {p["sequence_id"] for p in predictions} == set(fake_store.sequence_ids)
    for (
        row
    ) in predictions:  # held-out only: the subject of a prediction is never in that fold's training part
        assert row["subject"] in fake_store.subjects
    assert (tmp_path / "run" / "config.json").exists()


def test_finished_folds_are_not_recomputed(fake_store, tmp_path, monkeypatch):
    out = tmp_path / "run"
    calls = []
    real = crossval.train_and_predict

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # simulated kill during the third fold
        return real(*args, **kwargs)

    monkeypatch.setattr(crossval, "train_and_predict", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cross_validate(fake_store, TINY, "loso", out_dir=out, progress=False)
    assert len(list((out / "folds").glob("fold_*.json"))) == 2
    calls.clear()
    monkeypatch.setattr(crossval, "train_and_predict", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    result = cross_validate(fake_store, TINY, "loso", out_dir=out, progress=False)
    assert len(calls) == len(set(fake_store.subjects)) - 2  # only the unfinished folds ran
    assert len(result.folds) == len(set(fake_store.subjects))
    assert load_result(out).pooled_accuracy == pytest.approx(result.pooled_accuracy)


def test_a_different_config_in_the_same_folder_is_refused(fake_store, tmp_path):
    out = tmp_path / "run"
    cross_validate(fake_store, TINY, "kfold", k=2, out_dir=out, progress=False)
    other = TINY.with_overrides({"model.dropout": 0.9})
    with pytest.raises(RunMismatchError, match="different run"):
        cross_validate(fake_store, other, "kfold", k=2, out_dir=out, progress=False)


def test_same_seed_same_result(fake_store):
    a = cross_validate(fake_store, TINY, "kfold", k=2, progress=False)
    b = cross_validate(fake_store, TINY, "kfold", k=2, progress=False)
    assert [f.epoch_losses for f in a.folds] == [f.epoch_losses for f in b.folds]
    assert a.predictions.tolist() == b.predictions.tolist()


def test_on_fold_callback_can_stop(fake_store):
    seen = []

    class Stop(Exception):
        pass

    def callback(result, finished, n_folds):
        seen.append((result.fold, len(finished), n_folds))
        raise Stop

    with pytest.raises(Stop):
        cross_validate(fake_store, TINY, "loso", on_fold=callback, progress=False)
    assert seen == [(0, 1, len(set(fake_store.subjects)))]


def test_learns_the_fake_task(fake_store, tmp_path):
    """The fake task (a growing square in a class-specific corner) is easy: training must beat chance."""
    config = get_config("ckplus-paper", "tiny", {"input.size": 24, "train.epochs": 8, "model.width": 0.25})
    result = cross_validate(fake_store, config, "kfold", k=3, progress=False)
    assert result.pooled_accuracy > 0.6  # chance is 1/3
