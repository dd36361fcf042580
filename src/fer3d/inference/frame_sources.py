"""Frame sources for prediction: a video file or a camera, as ``(index, time_s, rgb_frame)``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer3d.data.errors import BadInputError


@dataclass
class FrameSource:
    name: str
    fps: float
    frame_count: int | None  # None for a camera
    frames: Iterator[tuple[int, float, np.ndarray]]


def video_source(path: str | Path) -> FrameSource:
    from fer3d.data.video import iter_frames, video_fps

    path = Path(path)
    fps = video_fps(path)  # raises BadInputError naming the file when it cannot be opened
    capture = cv2.VideoCapture(str(path))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) or None
    capture.release()
    return FrameSource(str(path), fps, count, iter_frames(path, "rgb"))


def camera_source(index: int, *, max_frames: int | None = None) -> FrameSource:
    """A live camera; frames are timed by the clock. Clear error where OpenCV cannot open one."""
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        capture.release()
        raise BadInputError(
            f"camera {index}",
            "OpenCV cannot open this camera (none connected, in use, or no access)",
            "pass a video file instead, or another --camera index",
        )
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    fps = fps if 0 < fps < 1000 else 30.0

    def frames() -> Iterator[tuple[int, float, np.ndarray]]:
        start = time.monotonic()
        index_ = 0
        try:
            while max_frames is None or index_ < max_frames:
                ok, frame = capture.read()
                if not ok or frame is None:
                    break
                yield index_, time.monotonic() - start, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                index_ += 1
        finally:
            capture.release()

    return FrameSource(f"camera {index}", fps, max_frames, frames())
