"""Offline face detection (dlib HOG frontal detector) and 5-point eye alignment.

Two levels:

- :class:`FaceAligner` works on one frame: ``detect(frame) -> list[Face]`` (largest first) and
  ``align(frame, face) -> crop``. Prediction on a video uses it frame by frame.
- :class:`DlibAlignedCropper` works on a whole sequence for ``prepare``: it detects on key frames only
  (every ``detect_every``-th frame plus the last, and the frames between two key frames whose boxes
  disagree), fits the 5 landmarks on every frame from the detected or interpolated box, reuses the
  neighbour's eyes on a frame where detection found nothing, and smooths the eye positions over time so
  the crop does not jitter.

Alignment is a similarity transform: the eyes are rotated level, the inter-ocular distance sets the scale
(the eyes span 40 % of the face width) and ``margin`` adds border around the face.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import dlib
import numpy as np

from fer3d.data.errors import BadInputError

EYE_SPAN = 0.4  # inter-ocular distance as a fraction of the face width
EYE_HEIGHT = 0.38  # eye line below the top of the face box, as a fraction of the face width
LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
TRACK_FACE = 90.0  # face width in pixels at which the tracking detector looks (dlib finds >= ~80)
TRACK_REACH = 0.85  # half-side of the tracking region, in face widths

Box = tuple[float, float, float, float]  # left, top, right, bottom in frame pixels
Point = tuple[float, float]


@dataclass(frozen=True)
class Face:
    """One detected face: its box and the centres of the image-left and image-right eyes."""

    box: Box
    left_eye: Point
    right_eye: Point

    @property
    def eye_distance(self) -> float:
        return float(np.hypot(self.right_eye[0] - self.left_eye[0], self.right_eye[1] - self.left_eye[1]))


def landmarks_path() -> Path:
    """The 5-point model shipped by ``face-recognition-models``, found by path (its ``__init__`` imports
    ``pkg_resources``, which newer setuptools no longer provide, so it is never imported)."""
    spec = importlib.util.find_spec("face_recognition_models")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "models" / LANDMARKS_FILE
        if candidate.is_file():
            return candidate
    raise BadInputError(
        "face_recognition_models",
        f"{LANDMARKS_FILE} not found",
        "install it with `pip install face-recognition-models`",
    )


@lru_cache(maxsize=1)
def _models() -> tuple[dlib.fhog_object_detector, dlib.shape_predictor]:
    """Loaded once per process (workers of ``prepare`` each load their own)."""
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(landmarks_path()))


def to_gray(frame: np.ndarray) -> np.ndarray:
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def box_iou(a: Box, b: Box) -> float:
    inter = _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


class FaceAligner:
    """Per-frame detection, landmarks and eye-aligned cropping.

    Args:
        size: side of the square crop in pixels.
        margin: border around the face as a fraction of the face width (0.25 = 12.5 % each side).
        upsample: dlib upsampling used when a first pass without upsampling finds nothing (finds faces
            smaller than about 80 pixels; each step is about 4x slower).
        detect_max_side: frames are downscaled so their longer side is at most this before detection
            (landmarks are always fitted at full resolution).
    """

    def __init__(
        self, size: int = 112, margin: float = 0.25, upsample: int = 1, *, detect_max_side: int = 400
    ):
        self.size = size
        self.margin = margin
        self.upsample = upsample
        self.detect_max_side = detect_max_side
        self.detector, self.predictor = _models()

    def detect_boxes(self, gray: np.ndarray, near: Box | None = None) -> list[Box]:
        """Face boxes in ``gray`` (uint8 ``[H, W]``), largest first.

        With ``near`` (the face's box in a neighbouring frame) the detector first looks only in a region
        around it, rescaled so the face is about ``TRACK_FACE`` pixels wide: a cheap way to track a face
        through a sequence, small faces included. The whole frame is searched when that finds nothing.
        """
        if near is not None:
            boxes = self._detect_near(gray, near)
            if boxes:
                return boxes
        scale = min(1.0, self.detect_max_side / max(gray.shape[:2]))
        small = (
            gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        rects = self.detector(small, 0)
        if len(rects) == 0 and self.upsample > 0:
            rects = self.detector(small, self.upsample)
        boxes = [(r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale) for r in rects]
        return sorted(boxes, key=_area, reverse=True)

    def _detect_near(self, gray: np.ndarray, near: Box) -> list[Box]:
        width = max(8.0, near[2] - near[0])
        cx, cy = (near[0] + near[2]) / 2, (near[1] + near[3]) / 2
        h, w = gray.shape[:2]
        reach = TRACK_REACH * width  # how far the face may have moved since its last box
        x0, y0 = int(max(0, cx - reach)), int(max(0, cy - reach))
        x1, y1 = int(min(w, cx + reach)), int(min(h, cy + reach))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return []
        scale = TRACK_FACE / width
        roi = cv2.resize(gray[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        rects = self.detector(roi, 0)
        boxes = [
            (r.left() / scale + x0, r.top() / scale + y0, r.right() / scale + x0, r.bottom() / scale + y0)
            for r in rects
        ]
        return sorted(boxes, key=_area, reverse=True)

    def eyes(self, gray: np.ndarray, box: Box) -> tuple[Point, Point]:
        """Image-left and image-right eye centres from the 5-point model fitted inside ``box``."""
        rect = dlib.rectangle(*(int(round(v)) for v in box))
        shape = self.predictor(gray, rect)
        pts = [(shape.part(i).x, shape.part(i).y) for i in range(4)]
        a = ((pts[0][0] + pts[1][0]) / 2.0, (pts[0][1] + pts[1][1]) / 2.0)
        b = ((pts[2][0] + pts[3][0]) / 2.0, (pts[2][1] + pts[3][1]) / 2.0)
        return (a, b) if a[0] <= b[0] else (b, a)

    def detect(self, frame: np.ndarray) -> list[Face]:
        """Every face in a frame (uint8 gray or RGB), largest first, with its eye centres."""
        gray = to_gray(frame)
        return [Face(box, *self.eyes(gray, box)) for box in self.detect_boxes(gray)]

    def transform(self, left_eye: Point, right_eye: Point) -> np.ndarray:
        """The 2x3 similarity matrix mapping a frame to the aligned ``size`` x ``size`` crop."""
        (lx, ly), (rx, ry) = left_eye, right_eye
        distance = max(1e-3, float(np.hypot(rx - lx, ry - ly)))
        face_width = distance / EYE_SPAN
        scale = self.size / (face_width * (1.0 + self.margin))
        angle = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
        centre = ((lx + rx) / 2.0, (ly + ry) / 2.0)
        matrix = cv2.getRotationMatrix2D(centre, angle, scale)
        target_y = self.size * (self.margin / 2.0 + EYE_HEIGHT) / (1.0 + self.margin)
        matrix[0, 2] += self.size / 2.0 - centre[0]
        matrix[1, 2] += target_y - centre[1]
        return matrix

    def align(self, frame: np.ndarray, face: Face | tuple[Point, Point]) -> np.ndarray:
        """Eye-aligned crop, uint8 ``[S, S]`` or ``[S, S, 3]`` like ``frame``."""
        left, right = (face.left_eye, face.right_eye) if isinstance(face, Face) else face
        return cv2.warpAffine(
            frame,
            self.transform(left, right),
            (self.size, self.size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )


class DlibAlignedCropper:
    """Sequence cropper for ``prepare`` (see the module docstring for how the box is kept stable).

    Args:
        detect_every: stride of key frames on which the detector runs.
        smooth: radius in frames of the moving average applied to the eye positions (0 = none).
    """

    def __init__(
        self,
        size: int = 112,
        margin: float = 0.25,
        upsample: int = 1,
        *,
        detect_every: int = 5,
        smooth: int = 1,
        detect_max_side: int = 400,
    ) -> None:
        self.aligner = FaceAligner(size, margin, upsample, detect_max_side=detect_max_side)
        self.detect_every = max(1, detect_every)
        self.smooth = smooth

    def sequence_eyes(self, frames: list[np.ndarray], where: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame eye centres ``[T, 2, 2]`` (after smoothing) and a ``[T]`` bool marking the frames where
        the detector ran and found no face (their eyes are copied from the nearest frame that has some)."""
        grays = [to_gray(f) for f in frames]
        n = len(grays)
        if n == 0:
            raise BadInputError(where, "empty sequence: no frames")
        boxes: list[Box | None] = [None] * n
        checked = [False] * n  # detection ran on this frame
        last: Box | None = None

        def run(t: int) -> None:
            nonlocal last
            checked[t] = True
            found = self.aligner.detect_boxes(grays[t], near=last)
            if not found:
                return
            if last is not None:  # the same person as before, not whoever is largest
                cx, cy = (last[0] + last[2]) / 2, (last[1] + last[3]) / 2
                found.sort(key=lambda b: (b[0] + b[2] - 2 * cx) ** 2 + (b[1] + b[3] - 2 * cy) ** 2)
            boxes[t] = last = found[0]

        keys = sorted(set(range(0, n, self.detect_every)) | {n - 1})
        for t in keys:
            run(t)
        for a, b in zip(
            keys, keys[1:], strict=False
        ):  # key frames that disagree: detect on the frames between
            box_a, box_b = boxes[a], boxes[b]
            if b - a > 1 and (box_a is None or box_b is None or box_iou(box_a, box_b) < 0.5):
                for t in range(a + 1, b):
                    run(t)
        found_at = [t for t in range(n) if boxes[t] is not None]
        if not found_at:
            raise BadInputError(
                where,
                f"no face found in any of the {n} frame(s)",
                "try --upsample 2 for small faces, --faces none for pre-cropped data, or --skip-bad",
            )
        eyes = np.zeros((n, 2, 2), dtype=np.float64)
        has_eyes = np.zeros(n, dtype=bool)
        for t in range(n):
            if checked[t] and boxes[t] is None:
                continue  # detection ran and found nothing: copy a neighbour's eyes below
            box = boxes[t] if boxes[t] is not None else _interpolate(boxes, t)
            eyes[t] = self.aligner.eyes(grays[t], box)
            has_eyes[t] = True
        with_eyes = np.flatnonzero(has_eyes)
        for t in np.flatnonzero(~has_eyes):
            eyes[t] = eyes[with_eyes[np.argmin(np.abs(with_eyes - t))]]
        return _moving_average(eyes, self.smooth), ~has_eyes

    def crop(self, frames: list[np.ndarray], where: str) -> np.ndarray:
        """Aligned uint8 crops ``[T, S, S]`` or ``[T, S, S, 3]``; BadInputError when no frame has a face."""
        eyes, _no_face = self.sequence_eyes(frames, where)
        return np.stack(
            [self.aligner.align(f, (tuple(e[0]), tuple(e[1]))) for f, e in zip(frames, eyes, strict=True)]
        )


def _interpolate(boxes: list[Box | None], t: int) -> Box:
    """Linear interpolation between the nearest boxes before and after ``t`` (or the nearest one)."""
    before = next((i for i in range(t - 1, -1, -1) if boxes[i] is not None), None)
    after = next((i for i in range(t + 1, len(boxes)) if boxes[i] is not None), None)
    if before is None or after is None:
        return boxes[before if before is not None else after]  # type: ignore[return-value,index]
    w = (t - before) / (after - before)
    a, b = np.asarray(boxes[before]), np.asarray(boxes[after])
    return tuple((1 - w) * a + w * b)  # type: ignore[return-value]


def _moving_average(values: np.ndarray, radius: int) -> np.ndarray:
    """Centred moving average along axis 0 with edge padding (keeps the length)."""
    if radius <= 0 or len(values) < 2:
        return values
    padded = np.concatenate([values[:1].repeat(radius, 0), values, values[-1:].repeat(radius, 0)])
    kernel = np.ones(2 * radius + 1) / (2 * radius + 1)
    flat = padded.reshape(len(padded), -1)
    out = np.stack([np.convolve(flat[:, j], kernel, mode="valid") for j in range(flat.shape[1])], axis=1)
    return out.reshape(values.shape)
