"""The annotated video: legible on small videos, and nothing drawn over a face but its box."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fer3d.inference.outputs import MIN_OUTPUT_HEIGHT, VideoAnnotator
from fer3d.inference.results import OK, WindowResult

NAMES = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")


def textured_frame(width: int, height: int, seed: int = 0) -> np.ndarray:
    """An RGB frame of noise, so any pixel drawn over it shows up as a difference."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def window(probs: list[float]) -> WindowResult:
    p = np.array(probs)
    return WindowResult(1, 0, 9, 0.0, 0.4, OK, 10, p, p)


def text_lines(mask: np.ndarray, max_gap: int = 3) -> list[int]:
    """Heights of the bands of rows holding ink; gaps of up to ``max_gap`` rows (an i's dot) join."""
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return []
    breaks = np.flatnonzero(np.diff(rows) > max_gap + 1)
    starts, ends = rows[np.r_[0, breaks + 1]], rows[np.r_[breaks, len(rows) - 1]]
    return (ends - starts + 1).tolist()


@pytest.mark.parametrize("top", [40, 0])  # the label goes above the box, or below it at the top edge
def test_small_video_is_upscaled_and_the_panel_leaves_the_face_alone(top: int) -> None:
    rgb = textured_frame(176, 144)
    box = (60.0, float(top), 105.0, top + 45.0)  # a 45-pixel face
    annotator = VideoAnnotator(Path("unused.mp4"), 25.0, NAMES)
    bare = annotator.render(rgb, {}, {})
    drawn = annotator.render(rgb, {1: box}, {1: window([0.05, 0.02, 0.03, 0.05, 0.7, 0.1, 0.05])})
    layout = annotator.layout
    assert layout is not None and drawn.shape == bare.shape == (layout.size[1], layout.size[0], 3)
    assert drawn.shape[0] >= MIN_OUTPUT_HEIGHT and layout.scale == pytest.approx(MIN_OUTPUT_HEIGHT / 144)

    changed = np.any(drawn[:, : layout.frame_w] != bare[:, : layout.frame_w], axis=2)
    x0, y0, x1, y1 = (int(round(v * layout.scale)) for v in box)
    edge = layout.thickness + 2  # the box's own lines
    assert changed[y0:y1, x0:x1].any()  # the box is drawn
    assert not changed[y0 + edge : y1 - edge, x0 + edge : x1 - edge].any(), "something drawn over the face"
    # what is drawn in the frame besides the box (its short label) stays near it
    assert changed.sum() < 0.1 * changed.size

    panel = drawn[:, layout.frame_w :]
    white = np.all(panel > 200, axis=2)  # the class names and percentages
    heights = text_lines(white)
    assert len(heights) == len(NAMES), heights
    assert min(heights) >= 10, f"text {min(heights)} px high cannot be read"
    bars = np.all(panel == (0, 200, 255), axis=2)  # the probability bars (BGR)
    widths = bars.sum(axis=1)
    assert widths.max() > 5 * widths[widths > 0].min()  # 70% is drawn much longer than 2%


def test_large_video_keeps_its_size_and_gets_a_margin() -> None:
    annotator = VideoAnnotator(Path("unused.mp4"), 25.0, NAMES)
    drawn = annotator.render(textured_frame(1280, 720), {1: (500.0, 200.0, 700.0, 450.0)}, {})
    layout = annotator.layout
    assert layout is not None and layout.scale == 1.0 and (layout.frame_w, layout.frame_h) == (1280, 720)
    assert drawn.shape[1] > 1280 and drawn.shape[0] == 720
    heights = text_lines(np.all(drawn[:, 1280:] > 200, axis=2))
    assert len(heights) == len(NAMES) and min(heights) >= 720 / MIN_OUTPUT_HEIGHT * 10


def test_annotated_video_file_has_the_layout_size(tmp_path: Path) -> None:
    path = tmp_path / "annotated.mp4"
    annotator = VideoAnnotator(path, 10.0, NAMES[:3])
    for i in range(5):
        faces = {} if i == 2 else {1: (60.0, 40.0, 105.0, 85.0)}
        annotator.write(textured_frame(176, 144, seed=i), faces, {1: window([0.2, 0.5, 0.3])})
    annotator.close()
    width, height = annotator.layout.size  # type: ignore[union-attr]
    capture = cv2.VideoCapture(str(path))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == 5
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (width, height)
    assert height >= MIN_OUTPUT_HEIGHT and width % 2 == 0 and height % 2 == 0
