"""Prediction over a video: windows, timestamps, no-face marking, and well-formed CSV/JSON/PNG/MP4."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

from fer3d.data.errors import BadInputError
from fer3d.inference.classifier import TorchClassifier
from fer3d.inference.outputs import ANNOTATED_MP4, FRAMES_CSV, TIMELINE_PNG, WINDOWS_CSV, WINDOWS_JSON
from fer3d.inference.predict import PredictOptions, WindowPredictor, predict_camera, predict_video
from fer3d.inference.tracking import FaceObservation, WholeFrameTracker

from .conftest import CLASSES, square_video, write_video

QUIET = {"progress": False}


def test_outputs_are_well_formed(tiny_model, tmp_path):
    video = square_video(tmp_path / "squares.mp4", n=30)
    out = tmp_path / "out"
    result = predict_video(video, tiny_model, out, PredictOptions(stride=4, smooth="ema", **QUIET))
    # windows of 10 frames end at frames 9, 13, ..., 29
    assert [w.end_frame for w in result.windows] == list(range(9, 30, 4))
    assert all(w.status == "ok" and w.end_frame - w.start_frame == 9 for w in result.windows)
    times = [w.t_end for w in result.windows]
    assert times == sorted(times) and times[0] == pytest.approx(9 / 25, abs=0.02)

    with open(out / WINDOWS_CSV) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(result.windows)
    probs = np.array([[float(r[f"p_{c}"]) for c in CLASSES] for r in rows])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert {r["label"] for r in rows} <= set(CLASSES)
    assert "raw_happy" in rows[0]  # smoothing keeps the raw model output too

    payload = json.loads((out / WINDOWS_JSON).read_text())
    assert payload["class_names"] == list(CLASSES) and payload["stride"] == 4 and payload["smooth"] == "ema"
    assert len(payload["frames"]) == 30 and payload["face_fraction"] == 1.0
    with open(out / FRAMES_CSV) as fh:
        assert len(list(csv.DictReader(fh))) == 30

    png = cv2.imread(str(out / TIMELINE_PNG))
    assert png is not None and png.shape[0] > 100
    capture = cv2.VideoCapture(str(out / ANNOTATED_MP4))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 30
    # a small video is upscaled to 480 px high, with the probability panel in a margin on its right
    assert capture.get(cv2.CAP_PROP_FRAME_HEIGHT) == 480 and capture.get(cv2.CAP_PROP_FRAME_WIDTH) > 480


def test_model_sees_what_it_was_trained_on(tiny_model, tmp_path):
    """The tiny model learnt 'square in corner 1' = happy; a video of it is classified so."""
    video = square_video(tmp_path / "happy.mp4", n=10, size=(32, 32), corner=1)
    result = predict_video(video, tiny_model, None, PredictOptions(**QUIET))
    assert len(result.windows) == 1
    assert result.windows[0].label(CLASSES) == "happy"


class GapTracker(WholeFrameTracker):
    """The whole frame is the face except on frames in ``missing``."""

    def __init__(self, size: int, missing: set[int]) -> None:
        super().__init__(size)
        self.missing, self.frame = missing, 0

    def update(self, frame: np.ndarray) -> dict[int, FaceObservation]:
        self.frame += 1
        return {} if self.frame - 1 in self.missing else super().update(frame)


def run_with_gap(model, missing: set[int], n: int = 40, stride: int = 1, smooth: str = "none"):
    predictor = WindowPredictor(
        TorchClassifier(model), PredictOptions(stride=stride, smooth=smooth), fps=25.0
    )
    predictor.tracker = GapTracker(32, missing)
    rng = np.random.default_rng(0)
    for i in range(n):
        predictor.push(i, i / 25, rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    predictor.flush()
    return predictor


def test_no_face_stretches_are_marked_not_guessed(tiny_model):
    predictor = run_with_gap(tiny_model, missing=set(range(15, 30)), smooth="ema")
    by_end = {w.end_frame: w for w in predictor.windows}
    assert len(by_end) == len(predictor.windows) == 31  # one window per end frame 9..39
    for end, window in by_end.items():
        overlaps_gap = end - 9 <= 29 and end >= 15
        assert (window.status == "no_face") == overlaps_gap, end
        assert (window.raw is None) == overlaps_gap
    assert by_end[20].track == 0 and by_end[20].face_frames == 4  # frames 11-14 of 11-20 show the face
    assert by_end[24].track is None and by_end[24].face_frames == 0  # nobody followed for a whole window
    assert by_end[16].track == 0 and by_end[16].face_frames == 8
    assert by_end[39].status == "ok"
    # smoothing restarts after the gap: the first window after it is the raw output
    np.testing.assert_allclose(by_end[39].smoothed, by_end[39].raw)
    assert [bool(f.faces) for f in predictor.frames] == [not (15 <= i < 30) for i in range(40)]


def test_no_face_in_csv(tiny_model, tmp_path):
    from fer3d.inference.outputs import write_tables
    from fer3d.inference.results import PredictionResult

    predictor = run_with_gap(tiny_model, missing={12})
    result = PredictionResult(
        "x", CLASSES, 25.0, 10, 1, "none", 5, "none", "torch", predictor.windows, predictor.frames
    )
    write_tables(result, tmp_path)
    with open(tmp_path / WINDOWS_CSV) as fh:
        rows = list(csv.DictReader(fh))
    gap = [r for r in rows if r["status"] == "no_face"]
    assert [int(r["end_frame"]) for r in gap] == list(range(12, 22))
    assert all(r["label"] == "no_face" and r["p_happy"] == "" for r in gap)
    with open(tmp_path / FRAMES_CSV) as fh:
        frames = list(csv.DictReader(fh))
    assert [r["frame"] for r in frames if r["status"] == "no_face"] == ["12"]


def test_stride_and_short_video(tiny_model, tmp_path):
    predictor = run_with_gap(tiny_model, missing=set(), n=25, stride=5)
    assert [w.end_frame for w in predictor.windows] == [9, 14, 19, 24]
    short = write_video(tmp_path / "short.mp4", [np.zeros((32, 32), np.uint8)] * 5)
    with pytest.raises(BadInputError, match="short.mp4.*windows of 10 frames"):
        predict_video(short, tiny_model, None, PredictOptions(**QUIET))


def test_missing_video_names_it(tiny_model, tmp_path):
    with pytest.raises(BadInputError, match="nothing.mp4"):
        predict_video(tmp_path / "nothing.mp4", tiny_model, None, PredictOptions(**QUIET))


def test_camera_that_cannot_open_is_a_clear_error(tiny_model):
    with pytest.raises(BadInputError, match="camera 97"):
        predict_camera(97, tiny_model, None, PredictOptions(**QUIET))


def test_onnx_predictions_match_torch(tiny_model, tmp_path):
    from fer3d.inference.export import export_onnx

    export_onnx(tiny_model)
    video = square_video(tmp_path / "v.mp4", n=20)
    a = predict_video(video, tiny_model, None, PredictOptions(stride=3, **QUIET))
    b = predict_video(video, tiny_model, None, PredictOptions(stride=3, **QUIET), onnx=True)
    assert b.backend == "onnxruntime"
    np.testing.assert_allclose(
        np.stack([w.raw for w in a.windows]), np.stack([w.raw for w in b.windows]), atol=1e-4
    )


def test_low_confidence_windows_are_shown_as_uncertain(tiny_model, tmp_path):
    """Windows whose top probability is below --min-confidence are labelled 'uncertain' everywhere."""
    video = square_video(tmp_path / "v.mp4", n=24)
    plain = predict_video(video, tiny_model, None, PredictOptions(stride=2, **QUIET))
    confidences = sorted(w.confidence() for w in plain.windows)
    threshold = (confidences[0] + confidences[-1]) / 2 if confidences[0] < confidences[-1] else 1.0
    out = tmp_path / "out"
    options = PredictOptions(stride=2, min_confidence=threshold, **QUIET)
    result = predict_video(video, tiny_model, out, options)
    assert result.min_confidence == threshold
    expected = [w.confidence() < threshold for w in plain.windows]
    assert [w.uncertain for w in result.windows] == expected and any(expected)
    for w in result.windows:
        top = CLASSES[int(np.argmax(w.smoothed))]
        assert w.top_label(CLASSES) == top
        assert w.label(CLASSES) == ("uncertain" if w.uncertain else top)
    assert 0 < result.uncertain_fraction <= 1
    with open(out / WINDOWS_CSV) as fh:
        labels = [r["label"] for r in csv.DictReader(fh)]
    assert labels == [w.label(CLASSES) for w in result.windows]
    payload = json.loads((out / WINDOWS_JSON).read_text())
    assert payload["min_confidence"] == threshold
    assert [r["uncertain"] for r in payload["windows"]] == expected
    assert all(r["top_label"] in CLASSES for r in payload["windows"])
    assert cv2.imread(str(out / TIMELINE_PNG)) is not None


def test_no_threshold_means_never_uncertain(tiny_model, tmp_path):
    result = predict_video(square_video(tmp_path / "v.mp4", n=14), tiny_model, None, PredictOptions(**QUIET))
    assert result.min_confidence == 0.0 and not any(w.uncertain for w in result.windows)
    assert all(w.label(CLASSES) in CLASSES for w in result.windows)


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_threshold_out_of_range_is_an_error(value):
    with pytest.raises(ValueError, match="min_confidence"):
        PredictOptions(min_confidence=value)
