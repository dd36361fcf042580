"""The synthetic generator: CK+ layout read by the real reader, determinism, motion that carries the label."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer3d.config import ConfigError
from fer3d.data.ckplus import CKPlusReader
from fer3d.data.errors import SkipLog
from fer3d.data.records import Dataset
from fer3d.data.synthetic import (
    PROTOTYPES,
    SynthConfig,
    _action_units,
    _draw_identity,
    generate,
    parse_frame_range,
)

TINY = SynthConfig(subjects=4, seed=3, image_size=48, min_frames=6, max_frames=12)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _gray(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(np.float32)


def _small(path: Path, size: int = 12) -> np.ndarray:
    """A frame averaged down to size x size: pixel noise cancels, facial movements remain."""
    return cv2.resize(_gray(path), (size, size), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("synth") / "tiny"
    return root, generate(root, TINY)


@pytest.fixture(scope="module")
def tiny_dataset(tiny: tuple[Path, str]) -> Dataset:
    return CKPlusReader().read(tiny[0], SkipLog())


def test_same_seed_writes_identical_bytes(tiny: tuple[Path, str], tmp_path: Path) -> None:
    generate(tmp_path / "again", TINY)
    assert _files(tmp_path / "again") == _files(tiny[0])


def test_parallel_generation_writes_the_same_bytes(tmp_path: Path) -> None:
    config = SynthConfig(subjects=8, seed=2, image_size=24, min_frames=2, max_frames=3)
    generate(tmp_path / "serial", config, workers=1)
    generate(tmp_path / "parallel", config, workers=2)
    assert _files(tmp_path / "serial") == _files(tmp_path / "parallel")


def test_different_seed_writes_different_frames(tiny: tuple[Path, str], tmp_path: Path) -> None:
    generate(tmp_path / "other", dataclasses.replace(TINY, seed=4))
    other, mine = _files(tmp_path / "other"), _files(tiny[0])
    shared = set(other) & set(mine)
    assert sum(other[k] != mine[k] for k in shared) > 0.9 * len(shared)


def test_reader_gets_every_labelled_sequence_with_its_subject(tiny_dataset: Dataset) -> None:
    assert len(tiny_dataset.records) == TINY.subjects * 7
    assert tiny_dataset.subjects == ["S001", "S002", "S003", "S004"]
    for subject in tiny_dataset.subjects:
        labels = sorted(r.label for r in tiny_dataset.records if r.subject == subject)
        assert labels == list(range(7))  # each subject shows each of the seven CK+ emotions once


def test_unlabelled_sequences_are_reported_in_notes(tiny: tuple[Path, str], tiny_dataset: Dataset) -> None:
    root = tiny[0]
    folders = [p for p in (root / "cohn-kanade-images").glob("S*/*") if p.is_dir()]
    unlabelled = len(folders) - len(tiny_dataset.records)
    assert unlabelled >= 1
    assert any(
        note.startswith(f"{unlabelled} sequence(s) have no emotion file") for note in tiny_dataset.notes
    )


def test_emotion_files_follow_ckplus_format(tiny: tuple[Path, str], tiny_dataset: Dataset) -> None:
    root = tiny[0]
    for record in tiny_dataset.records:
        subject, seq = record.sequence_id.split("/")
        (emotion,) = (root / "Emotion" / subject / seq).glob("*_emotion.txt")
        assert (
            emotion.name == f"{subject}_{seq}_{len(record.frames):08d}_emotion.txt"
        )  # named after the last frame
        assert re.fullmatch(r"   [1-7]\.0000000e\+00\n", emotion.read_text())
        assert [p.name for p in record.frames] == [
            f"{subject}_{seq}_{i:08d}.png" for i in range(1, len(record.frames) + 1)
        ]


def test_frames_are_square_grayscale_and_counts_within_bounds(tiny_dataset: Dataset) -> None:
    lengths = [len(r.frames) for r in tiny_dataset.records]
    assert min(lengths) >= TINY.min_frames and max(lengths) <= TINY.max_frames
    assert len(set(lengths)) > 2  # variable onset-to-apex duration
    image = cv2.imread(str(tiny_dataset.records[0].frames[0]), cv2.IMREAD_UNCHANGED)
    assert image.shape == (48, 48) and image.dtype == np.uint8


def test_color_frames_have_three_channels(tmp_path: Path) -> None:
    generate(tmp_path, SynthConfig(subjects=1, image_size=32, min_frames=2, max_frames=3, color=True))
    frame = next((tmp_path / "cohn-kanade-images").rglob("*.png"))
    image = cv2.imread(str(frame), cv2.IMREAD_UNCHANGED)
    assert image.shape == (32, 32, 3)
    assert np.abs(image[..., 2].astype(int) - image[..., 0]).mean() > 1  # not gray stored as BGR


def test_six_emotions_drop_contempt_but_keep_ckplus_codes(tmp_path: Path) -> None:
    summary = generate(
        tmp_path, SynthConfig(subjects=2, emotions=6, image_size=32, min_frames=2, max_frames=3)
    )
    dataset = CKPlusReader().read(tmp_path, SkipLog())
    assert Counter(r.label for r in dataset.records) == {c: 2 for c in (0, 2, 3, 4, 5, 6)}  # no 1 = contempt
    assert "12 labelled" in summary and "contempt" not in summary


def test_sequence_number_does_not_leak_the_label(tmp_path: Path) -> None:
    generate(tmp_path, SynthConfig(subjects=6, image_size=24, min_frames=2, max_frames=2))
    dataset = CKPlusReader().read(tmp_path, SkipLog())
    first_labels = {r.label for r in dataset.records if r.sequence_id.endswith("/001")}
    assert len(first_labels) > 2


def _movement(a: np.ndarray, b: np.ndarray) -> float:
    """How much the face moved between two small frames: a high quantile of the change, less global gain."""
    change = a - b
    return float(np.percentile(np.abs(change - np.median(change)), 95))


def test_expression_grows_from_onset_to_apex(tmp_path: Path) -> None:
    generate(
        tmp_path, SynthConfig(subjects=3, seed=1, difficulty=0.0, image_size=48, min_frames=8, max_frames=14)
    )
    dataset = CKPlusReader().read(tmp_path, SkipLog())
    onset, total = [], []
    for record in dataset.records:
        clip = record.frames[-10:]  # what the models see
        first, second, last = (_small(p) for p in (clip[0], clip[1], clip[-1]))
        onset.append(_movement(second, first))
        total.append(_movement(last, first))
    ratio = np.array(total) / np.array(onset)
    assert np.mean(ratio > 2) > 0.8  # the clip starts near neutral and ends at the apex
    assert np.median(ratio) > 3


def test_a_clip_opens_on_the_resting_face_and_moves_for_most_of_its_frames() -> None:
    """The onset falls in the first 3 frames of the last 10, so most of a clip's frames are expressive."""
    rng = np.random.default_rng(0)
    ident = _draw_identity(rng, 0.0, False)
    moving = []
    for _ in range(50):
        n = int(rng.integers(10, 19))
        clip = _action_units(rng, ident, 5, n, 0.0)[-10:] - ident.rest
        size = np.abs(np.delete(clip, 2, axis=1)).max(axis=1)  # away from rest, per frame (lids blink)
        assert size[0] < 0.15  # starts at rest, up to per-frame jitter
        assert size[-1] > 0.4  # ends at the apex
        moving.append(int((size > 0.1).sum()))
    assert min(moving) >= 5 and np.mean(moving) >= 6.5  # a later onset (4-10 frames) gave min 3


def test_summary_counts_sequences(tiny: tuple[Path, str]) -> None:
    summary = tiny[1]
    assert "28 labelled" in summary and "4 subjects" in summary and "anger 4" in summary


def test_refuses_to_write_over_an_existing_dataset(tiny: tuple[Path, str]) -> None:
    from fer3d.atomic import ForeignFolderError

    with pytest.raises(ForeignFolderError, match="not a fer3d synthetic dataset"):
        generate(tiny[0], TINY)


@pytest.mark.parametrize(
    "bad", [{"emotions": 5}, {"difficulty": 1.5}, {"min_frames": 9, "max_frames": 8}, {"subjects": 0}]
)
def test_invalid_config_is_rejected(bad: dict) -> None:
    with pytest.raises(ConfigError):
        SynthConfig(**bad)


# ---------------------------------------------------------------- learnability (cheap linear probes)


def _action_unit_probe(difficulty: float, subjects: int = 30) -> dict[str, float]:
    """Linear-probe accuracy on the generator's own action units: apex alone vs change from onset."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score

    rng = np.random.default_rng(0)
    apex, change, labels, groups = [], [], [], []
    for subject in range(subjects):
        identity = _draw_identity(rng, difficulty, False)
        for code in range(1, 8):
            aus = _action_units(rng, identity, code, 10, difficulty)
            apex.append(aus[-1])
            change.append(aus[-1] - aus[0])
            labels.append(code)
            groups.append(subject)
    return {
        name: cross_val_score(
            LogisticRegression(max_iter=500), np.array(x), labels, groups=groups, cv=GroupKFold(4)
        ).mean()
        for name, x in (("apex", apex), ("change", change))
    }


def test_resting_face_makes_the_apex_alone_ambiguous_only_when_hard() -> None:
    easy, hard = _action_unit_probe(0.0), _action_unit_probe(1.0)
    assert easy["apex"] > 0.95  # easy: the resting face is nearly neutral, the apex tells
    assert hard["change"] > 0.9  # hard: the movement still tells...
    assert hard["apex"] < hard["change"] - 0.3  # ...but the apex alone is ambiguous


@pytest.mark.parametrize(("difficulty", "low", "high"), [(0.0, 0.0, 0.3), (1.0, 0.6, 1.6)])
def test_resting_face_strength_grows_with_difficulty(difficulty: float, low: float, high: float) -> None:
    rng = np.random.default_rng(1)
    rest = np.median([np.abs(_draw_identity(rng, difficulty, False).rest).sum() for _ in range(100)])
    apex = np.median([np.abs(p).sum() for p in PROTOTYPES.values()])  # a full-intensity expression
    assert low < rest / apex < high  # at high difficulty, a resting face is as strong as an apex


def _probe_accuracy(root: Path) -> dict[str, float]:
    """Subject-wise 4-fold accuracy of a logistic regression on the last frame vs (last - first)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    dataset = CKPlusReader().read(root, SkipLog())

    last = np.array([_small(r.frames[-1]).ravel() / 255 for r in dataset.records])
    first = np.array([_small(r.frames[-10:][0]).ravel() / 255 for r in dataset.records])
    labels = np.array([r.label for r in dataset.records])
    groups = np.array([r.subject for r in dataset.records])
    scores = {}
    for name, features in (("last", last), ("motion", last - first)):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=300))
        scores[name] = cross_val_score(model, features, labels, groups=groups, cv=GroupKFold(4)).mean()
    return scores


def test_easy_setting_is_learnable_from_motion(tmp_path: Path) -> None:
    generate(tmp_path, SynthConfig(subjects=16, seed=5, difficulty=0.0, image_size=40, max_frames=10))
    scores = _probe_accuracy(tmp_path)
    assert scores["motion"] > 0.45  # chance is 1/7 = 0.14


def test_last_frame_alone_is_ambiguous_when_hard(tmp_path: Path) -> None:
    generate(tmp_path, SynthConfig(subjects=20, seed=6, difficulty=0.6, image_size=40, max_frames=10))
    scores = _probe_accuracy(tmp_path)
    assert scores["motion"] > scores["last"] + 0.1


def test_short_sequences_go_from_rest_to_apex(tmp_path: Path) -> None:
    """``--frames 3-6``: every sequence has 3 to 6 frames and still moves from its first to its last."""
    config = SynthConfig(subjects=3, seed=1, image_size=40, min_frames=3, max_frames=6, difficulty=0.0)
    generate(tmp_path, config, workers=1)
    dataset = CKPlusReader().read(tmp_path, SkipLog())
    lengths = [len(r.frames) for r in dataset.records]
    assert min(lengths) >= 3 and max(lengths) <= 6 and len(set(lengths)) > 1
    moved = [np.abs(_small(r.frames[-1]) - _small(r.frames[0])).mean() for r in dataset.records]
    assert np.median(moved) > 1.0  # gray levels of the 12x12 average, which noise alone does not reach


@pytest.mark.parametrize("text,expected", [("3-6", (3, 6)), ("10", (10, 10)), (" 4-4 ", (4, 4))])
def test_frame_range_parses(text: str, expected: tuple[int, int]) -> None:
    assert parse_frame_range(text) == expected


@pytest.mark.parametrize("text", ["3-a", "", "3-4-5", "-"])
def test_bad_frame_range_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="MIN-MAX"):
        parse_frame_range(text)
