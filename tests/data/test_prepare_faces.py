"""``prepare`` with dlib faces on fake Oulu-CASIA and folder trees built from real faces."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

import fer3d.data.cache as cache_module
from fer3d.data.errors import BadInputError
from fer3d.data.prepare import PrepareConfig, prepare
from fer3d.data.registry import read_dataset

from .conftest import Photo, eye_tilt_in_crop, face_sequence, media_dir, write_oulu

FACES = PrepareConfig(frames=4, size=112, color="rgb", faces="dlib")


def _mirror(photo: Photo) -> Photo:
    w = photo.image.shape[1]
    (lx, ly), (rx, ry) = photo.left_eye, photo.right_eye
    return Photo(photo.name + "-mirror", photo.image[:, ::-1].copy(), (w - 1 - rx, ry), (w - 1 - lx, ly))


@pytest.fixture
def oulu_faces(tmp_path, astronaut):
    """Two subjects (the astronaut and her mirror) x 3 emotions x 6 moving frames, one without a face."""
    photos = [astronaut, _mirror(astronaut)]
    spec = [(f"S00{s + 1}", label, 6) for s in range(2) for label in (0, 3, 5)]
    sequences = [face_sequence(photos[i // 3], 6, seed=i, blank=(3,)) for i in range(len(spec))]
    return write_oulu(tmp_path / "oulu", spec, lambda i, f: cv2.cvtColor(sequences[i][f], cv2.COLOR_RGB2BGR))


def test_prepare_oulu_with_faces(oulu_faces, tmp_path):
    dataset = read_dataset("oulu", oulu_faces)
    store = prepare(dataset, tmp_path / "cache", FACES, workers=1, progress=False)
    clips = store.clips(False)
    assert clips.shape == (6, 4, 112, 112, 3)
    assert store.subjects.tolist() == ["P001"] * 3 + ["P002"] * 3
    assert store.class_names[store.labels[2]] == "surprise"
    tilts = [eye_tilt_in_crop(clips[i, t]) for i in range(6) for t in (0, 1, 3)]  # t=1: the blank frame
    found = [t for t in tilts if t is not None]
    assert len(found) >= 0.9 * 12 and np.mean(found) <= 1.5
    assert store.clips(True).shape == clips.shape


def test_parallel_prepare_matches_serial(oulu_faces, tmp_path):
    dataset = read_dataset("oulu", oulu_faces)
    one = prepare(dataset, tmp_path / "a", FACES, workers=1, progress=False)
    two = prepare(read_dataset("oulu", oulu_faces), tmp_path / "b", FACES, workers=2, progress=False)
    np.testing.assert_array_equal(one.clips(False), two.clips(False))


def test_sequence_without_a_face_stops_or_is_skipped(oulu_faces, tmp_path):
    blank = oulu_faces / "OriginalImg" / "VL" / "Strong" / "P002" / "Happiness"
    for frame in blank.iterdir():
        cv2.imwrite(str(frame), np.full((240, 320, 3), 100, np.uint8))
    with pytest.raises(BadInputError, match=f"{blank}: no face found"):
        prepare(read_dataset("oulu", oulu_faces), tmp_path / "cache", FACES, workers=1, progress=False)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
    dataset = read_dataset("oulu", oulu_faces, skip_bad=True)
    store = prepare(dataset, tmp_path / "cache", FACES, workers=1, progress=False)
    assert len(store) == 5
    assert store.meta["skipped"] == [{"path": str(blank), "reason": dataset.skip_log.skipped[0].reason}]
    assert "no face found" in store.meta["skipped"][0]["reason"]


def test_crash_while_writing_leaves_no_cache(oulu_faces, tmp_path, monkeypatch):
    calls = []
    real_save = np.save

    def failing_save(path, array):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        real_save(path, array)

    monkeypatch.setattr(cache_module.np, "save", failing_save)
    config = PrepareConfig(frames=3, size=32)
    with pytest.raises(OSError, match="disk full"):
        prepare(read_dataset("oulu", oulu_faces), tmp_path / "cache", config, workers=1, progress=False)
    assert list((tmp_path / "cache").iterdir()) == []
    monkeypatch.setattr(cache_module.np, "save", real_save)
    store = prepare(read_dataset("oulu", oulu_faces), tmp_path / "cache", config, workers=1, progress=False)
    assert len(store) == 6


def test_folder_of_real_videos(tmp_path):
    root = tmp_path / "videos"
    (root / "happy").mkdir(parents=True)
    (root / "neutral").mkdir()
    shutil.copy(media_dir() / "single_face.mp4", root / "happy" / "P01_smile.mp4")
    shutil.copy(media_dir() / "no_face.mp4", root / "neutral" / "P02_empty.mp4")
    config = PrepareConfig(frames=3, size=64, faces="dlib")
    with pytest.raises(BadInputError, match="P02_empty.mp4: no face found"):
        prepare(
            read_dataset("folder", root, subject_regex="^(P\\d+)_"),
            tmp_path / "c",
            config,
            workers=1,
            progress=False,
        )
    dataset = read_dataset("folder", root, subject_regex="^(P\\d+)_", skip_bad=True)
    store = prepare(dataset, tmp_path / "c", config, workers=1, progress=False)
    assert store.clips(False).shape == (1, 3, 64, 64)
    assert store.subjects.tolist() == ["P01"] and store.class_names == ("happy", "neutral")
    assert eye_tilt_in_crop(cv2.resize(np.asarray(store.clips(False)[0, -1]), (112, 112))) <= 3.0
