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


ENSEMBLE = TINY.with_overrides({"test.ensemble": 2, "test.mirror": True})


def test_ensemble_averages_its_members_and_is_deterministic(fake_store, monkeypatch):
    """Two members from distinct seeds: probabilities are their mean; the same seed repeats it."""
    train, test = np.arange(0, 12), np.arange(12, len(fake_store))
    recipe = crossval.choose_recipe(ENSEMBLE, "cpu")
    probs, record = crossval.train_and_predict(fake_store, ENSEMBLE, train, test, seed=3, recipe=recipe)
    again, _ = crossval.train_and_predict(fake_store, ENSEMBLE, train, test, seed=3, recipe=recipe)
    assert probs.shape == (len(test), fake_store.num_classes)
    np.testing.assert_array_equal(probs, again)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    single = ENSEMBLE.with_overrides({"test.ensemble": 1})
    first, _ = crossval.train_and_predict(fake_store, single, train, test, seed=3, recipe=recipe)
    members = []
    real_predict = crossval.predict_proba

    def keep(*args, **kwargs):
        members.append(real_predict(*args, **kwargs))
        return members[-1]

    monkeypatch.setattr(crossval, "predict_proba", keep)
    crossval.train_and_predict(fake_store, ENSEMBLE, train, test, seed=3, recipe=recipe)
    assert len(members) == 2 and not np.array_equal(members[0], members[1])
    np.testing.assert_array_equal(members[0], first)  # member 0 is the single model of the same seed
    np.testing.assert_allclose(probs, (members[0] + members[1]) / 2, atol=1e-7)
    assert len(record.epoch_losses) == ENSEMBLE.train.epochs


def test_ensemble_cross_validation_keeps_shapes_and_labels(fake_store):
    result = cross_validate(fake_store, ENSEMBLE, "kfold", k=2, progress=False)
    assert sorted(result.tested.tolist()) == list(range(len(fake_store)))
    for fold in result.folds:
        probs = np.array(fold.probabilities)
        assert probs.shape == (len(fold.test_indices), fake_store.num_classes)
        assert fold.predictions == probs.argmax(axis=1).tolist()


@pytest.fixture
def init_folder(fake_store, tmp_path):
    from fer3d.inference.final import train_final

    return train_final(fake_store, TINY, tmp_path / "init", progress=False)


def test_warm_start_is_used_deterministic_and_recorded(fake_store, init_folder, tmp_path, monkeypatch):
    from fer3d.inference.warm_start import WarmStart

    warm = WarmStart.from_model_dir(init_folder)
    applied = []
    real_apply = WarmStart.apply

    def apply(self, model, member, **kwargs):
        applied.append(member)
        real_apply(self, model, member, **kwargs)

    monkeypatch.setattr(WarmStart, "apply", apply)
    out = tmp_path / "run"
    a = cross_validate(fake_store, TINY, "kfold", k=2, out_dir=out, progress=False, warm_start=warm)
    assert applied == [0, 0]  # every fold starts from the folder
    b = cross_validate(fake_store, TINY, "kfold", k=2, progress=False, warm_start=warm)
    assert a.predictions.tolist() == b.predictions.tolist()
    assert [f.epoch_losses for f in a.folds] == [f.epoch_losses for f in b.folds]
    scratch = cross_validate(fake_store, TINY, "kfold", k=2, progress=False)
    assert [f.epoch_losses for f in scratch.folds] != [f.epoch_losses for f in a.folds]
    header = json.loads((out / "run.json").read_text())
    assert header["init"] == warm.describe()
    with pytest.raises(RunMismatchError, match="init differs"):  # a warm-started folder is not resumed cold
        cross_validate(fake_store, TINY, "kfold", k=2, out_dir=out, progress=False)


def test_warm_start_of_another_architecture_fails_before_training(fake_store, init_folder, monkeypatch):
    from fer3d.inference.model_dir import ModelFolderError
    from fer3d.inference.warm_start import WarmStart

    monkeypatch.setattr(crossval, "train_and_predict", lambda *a, **k: pytest.fail("trained"))
    wider = TINY.with_overrides({"model.width": 0.25})
    with pytest.raises(ModelFolderError, match="model.width"):
        cross_validate(
            fake_store, wider, "kfold", k=2, progress=False, warm_start=WarmStart.from_model_dir(init_folder)
        )
