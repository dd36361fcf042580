"""The neutral class built from sequence onsets (``prepare --neutral onset``)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import write_fake_ckplus
from fer3d.data.errors import BadInputError
from fer3d.data.inspect import summary
from fer3d.data.neutral import MIN_ONSET_SEQUENCE, NEUTRAL, onset_length, with_neutral_onsets
from fer3d.data.prepare import PrepareConfig, prepare
from fer3d.data.registry import read_dataset
from fer3d.evaluation.splits import make_folds


def _prepare(root: Path, cache: Path, **options):
    config = PrepareConfig(size=24, neutral="onset", **options)
    return prepare(read_dataset("ckplus", root), cache, config, workers=1, progress=False)


def test_onset_clips_are_one_more_class_of_the_same_subjects(fake_ckplus: Path, tmp_path: Path) -> None:
    dataset = read_dataset("ckplus", fake_ckplus)
    store = _prepare(fake_ckplus, tmp_path / "c")
    assert store.class_names == (*dataset.class_names, NEUTRAL)
    long_enough = [r for r in dataset.records if len(r.frames) >= MIN_ONSET_SEQUENCE]
    assert 0 < len(long_enough) < len(dataset.records)  # the fake set has 4-12 frames per sequence
    assert len(store) == len(dataset.records) + len(long_enough)
    n = len(dataset.records)
    # the sequences' own clips come first, unchanged in order and label; the onsets follow
    assert store.sequence_ids[:n] == [r.sequence_id for r in dataset.records]
    assert store.labels[:n].tolist() == [r.label for r in dataset.records]
    assert store.sequence_ids[n:] == [f"{r.sequence_id}/onset" for r in long_enough]
    assert store.subjects[n:].tolist() == [r.subject for r in long_enough]
    assert set(store.labels[n:].tolist()) == {len(dataset.class_names)}
    assert any("gave none" in note for note in store.meta["notes"])


def test_onset_clip_shows_the_start_of_the_sequence(fake_ckplus: Path, tmp_path: Path) -> None:
    """In the fake set a bright bar grows over the sequence: the onset clip shows less of it."""
    store = _prepare(fake_ckplus, tmp_path / "c")
    clips = store.clips(clahe=False).astype(np.float32)
    index = {sid: i for i, sid in enumerate(store.sequence_ids)}
    onsets = [sid for sid in store.sequence_ids if sid.endswith("/onset")]
    for sid in onsets:
        apex, onset = clips[index[sid.removesuffix("/onset")]], clips[index[sid]]
        assert onset.mean() < apex[-1].mean()


def test_onset_length_is_the_first_third() -> None:
    assert [onset_length(n, 10) for n in (6, 9, 18, 60)] == [2, 3, 6, 10]


def test_subjects_never_cross_folds_with_neutral_clips(tmp_path: Path) -> None:
    root = write_fake_ckplus(tmp_path / "ck", subjects=9, frames=(6, 12))
    store = _prepare(root, tmp_path / "c")
    subjects = store.subjects
    for protocol in ("kfold", "loso"):
        for fold in make_folds(protocol, store.labels, subjects, k=3, seed=0):
            assert not set(subjects[fold.train]) & set(subjects[fold.test])
            tested = {store.sequence_ids[i] for i in fold.test}
            for sid in tested:  # a sequence and its onset are always tested together
                partner = sid.removesuffix("/onset") if sid.endswith("/onset") else f"{sid}/onset"
                assert partner in tested


def test_inspect_counts_the_neutral_class(fake_ckplus: Path, tmp_path: Path) -> None:
    store = _prepare(fake_ckplus, tmp_path / "c")
    text = summary(store)
    count = int((store.labels == store.class_names.index(NEUTRAL)).sum())
    assert re.search(rf"^\s+{NEUTRAL}\s+{count}$", text, re.M)
    assert "neutral: " in text and f"{store.num_classes} classes" in text


def test_a_dataset_with_its_own_neutral_class_is_refused(fake_ckplus: Path) -> None:
    dataset = read_dataset("ckplus", fake_ckplus)
    named = dataclasses.replace(dataset, class_names=(*dataset.class_names[:-1], "Neutral"))
    with pytest.raises(BadInputError, match="already has a neutral class"):
        with_neutral_onsets(named)


def test_sequences_too_short_for_an_onset_are_a_clear_error(tmp_path: Path) -> None:
    root = write_fake_ckplus(tmp_path / "ck", subjects=2, frames=(3, 3))
    with pytest.raises(BadInputError, match="neutral onset clip needs"):
        _prepare(root, tmp_path / "c")


def test_a_bad_sequence_is_reported_once(fake_ckplus: Path, tmp_path: Path) -> None:
    broken = sorted((fake_ckplus / "cohn-kanade-images" / "S002" / "001").glob("*.png"))[0]
    broken.write_bytes(b"")
    dataset = read_dataset("ckplus", fake_ckplus, skip_bad=True)
    store = prepare(
        dataset, tmp_path / "c", PrepareConfig(size=24, neutral="onset"), workers=1, progress=False
    )
    assert len(store.meta["skipped"]) == 1
    assert not any(sid.startswith("S002/001") for sid in store.sequence_ids)


def test_held_out_onsets_are_recognised_as_neutral(tmp_path: Path) -> None:
    """On the synthetic generator's sequences, a tiny model (logistic regression on the prepared clips'
    motion, class-balanced) trained with --neutral onset on some subjects tells the held-out subjects'
    onset clips from their expressive clips, well above chance (0.5 for this balanced accuracy)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from fer3d.data.synthetic import SynthConfig, generate

    generate(tmp_path / "s", SynthConfig(subjects=8, seed=0, difficulty=0.3, image_size=32), workers=1)
    store = _prepare(tmp_path / "s", tmp_path / "c")
    clips = store.clips(clahe=False).astype(np.float32) / 255.0
    small = clips.reshape(len(clips), clips.shape[1], 6, 4, 6, 4).mean(axis=(3, 5))  # 24 px -> 6x6
    features = np.concatenate(
        [(small[:, -1] - small[:, 0]).reshape(len(small), -1), small.std(axis=1).reshape(len(small), -1)], 1
    )
    neutral = store.class_names.index(NEUTRAL)
    is_neutral = store.labels == neutral
    called_neutral = np.zeros(len(store), bool)
    for fold in make_folds("kfold", store.labels, store.subjects, k=4, seed=0):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, class_weight="balanced"))
        model.fit(features[fold.train], store.labels[fold.train])
        called_neutral[fold.test] = model.predict(features[fold.test]) == neutral
    recall = called_neutral[is_neutral].mean()
    false_neutral = called_neutral[~is_neutral].mean()
    assert (recall + (1 - false_neutral)) / 2 > 0.7, (recall, false_neutral)  # measured: 0.83
