import numpy as np
import pytest

from fer3d.evaluation.splits import folds_within, loso, make_folds, subject_kfold


def _dataset(n_subjects=23, seed=0):
    rng = np.random.default_rng(seed)
    subjects, labels = [], []
    for s in range(n_subjects):
        for _ in range(int(rng.integers(1, 6))):
            subjects.append(f"S{s:03d}")
            labels.append(int(rng.integers(0, 7)))
    return np.array(labels), np.array(subjects)


def _check_partition(folds, subjects):
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(len(subjects))), "every sequence tested exactly once"
    for fold in folds:
        assert not set(subjects[fold.train]) & set(subjects[fold.test]), "a subject crossed folds"
        assert len(np.intersect1d(fold.train, fold.test)) == 0
        assert len(fold.train) + len(fold.test) == len(subjects)


def test_loso_one_subject_per_fold():
    labels, subjects = _dataset()
    folds = loso(subjects)
    assert len(folds) == len(set(subjects))
    _check_partition(folds, subjects)
    assert all(len(set(subjects[f.test])) == 1 for f in folds)


@pytest.mark.parametrize("k", [2, 5, 10])
def test_subject_kfold_partitions_by_subject(k):
    labels, subjects = _dataset()
    folds = subject_kfold(labels, subjects, k=k, seed=3)
    assert len(folds) == k
    _check_partition(folds, subjects)


def test_same_seed_same_folds_other_seed_other_folds():
    labels, subjects = _dataset()
    a = [f.test.tolist() for f in subject_kfold(labels, subjects, 5, seed=1)]
    b = [f.test.tolist() for f in subject_kfold(labels, subjects, 5, seed=1)]
    c = [f.test.tolist() for f in subject_kfold(labels, subjects, 5, seed=2)]
    assert a == b and a != c


def test_kfold_is_roughly_stratified():
    labels, subjects = _dataset(n_subjects=60)
    for fold in subject_kfold(labels, subjects, 5, seed=0):
        assert len(set(labels[fold.test])) >= 5


def test_too_many_folds_is_an_error():
    labels, subjects = _dataset(n_subjects=4)
    with pytest.raises(ValueError, match="number of subjects"):
        make_folds("kfold", labels, subjects, k=10)
    with pytest.raises(ValueError, match="unknown protocol"):
        make_folds("random", labels, subjects)


@pytest.mark.parametrize("protocol", ["loso", "kfold"])
def test_folds_within_split_only_the_given_clips(protocol):
    # a nested search's inner folds: made on the outer training part, so none is left without training
    # or test clips however the outer split fell (restricting whole-store folds could leave either empty)
    labels, subjects = _dataset()
    outer = subject_kfold(labels, subjects, k=3, seed=0)[0]
    inner = folds_within(protocol, labels, subjects, outer.train, k=3, seed=0)
    tested = np.concatenate([f.test for f in inner])
    assert sorted(tested.tolist()) == sorted(outer.train.tolist())
    for fold in inner:
        assert len(fold.train) and len(fold.test)
        assert set(fold.train.tolist()) | set(fold.test.tolist()) == set(outer.train.tolist())
        assert not set(subjects[fold.train]) & set(subjects[fold.test]), "a subject crossed folds"
    assert not set(tested.tolist()) & set(outer.test.tolist()), "an outer test clip reached the inner folds"
