"""Which face is where in each frame: a detector-driven IoU tracker, or the whole frame.

Each frame returns ``{track_id: FaceObservation}`` for the faces seen in it. A track keeps its id while
its face is found again near its last box; a face not found for more than ``max_missed`` frames ends its
track. Frames where a face is not found are reported without it: nothing is interpolated, so no-face
stretches show up as such downstream.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[float, float, float, float]  # left, top, right, bottom in frame pixels


@dataclass(frozen=True)
class FaceObservation:
    box: Box
    crop: np.ndarray  # aligned uint8 crop, as ``prepare`` makes it


def box_iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class WholeFrameTracker:
    """``--faces none``: the whole frame is the face (data already cropped), one track, never missing."""

    def __init__(self, size: int) -> None:
        self.size = size

    def update(self, frame: np.ndarray) -> dict[int, FaceObservation]:
        h, w = frame.shape[:2]
        crop = cv2.resize(frame, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return {0: FaceObservation((0.0, 0.0, float(w), float(h)), crop)}


@dataclass
class _Track:
    box: Box
    missed: int = 0


class DlibFaceTracker:
    """Faces found by dlib and eye-aligned exactly as ``prepare`` does (same size, margin, upsampling).

    Args:
        all_faces: follow every face; otherwise only the largest one (a new one is chosen when it is lost).
        detect_every: in ``all_faces`` mode, search the whole frame for new faces every this many frames
            (tracked faces are searched near their last box on every frame, which is cheaper).
        max_missed: frames a face may go unseen before its track ends.
        min_iou: overlap with the last box needed to count a detection as the same face.
    """

    def __init__(
        self,
        size: int,
        margin: float,
        upsample: int,
        *,
        all_faces: bool = False,
        detect_every: int = 10,
        max_missed: int = 15,
        min_iou: float = 0.2,
    ) -> None:
        from fer3d.data.dlib_faces import FaceAligner

        self.aligner = FaceAligner(size, margin, upsample)
        self.all_faces = all_faces
        self.detect_every = max(1, detect_every)
        self.max_missed = max_missed
        self.min_iou = min_iou
        self.tracks: dict[int, _Track] = {}
        self._next_id = 0
        self._frame = 0

    def update(self, frame: np.ndarray) -> dict[int, FaceObservation]:
        from fer3d.data.dlib_faces import to_gray

        gray = to_gray(frame)
        found: dict[int, Box] = {}
        full_search = not self.tracks or (self.all_faces and self._frame % self.detect_every == 0)
        detections = self.aligner.detect_boxes(gray) if full_search else []
        # Greedy IoU matching of whole-frame detections to tracks (highest overlap first).
        pairs = sorted(
            ((box_iou(t.box, d), tid, i) for tid, t in self.tracks.items() for i, d in enumerate(detections)),
            reverse=True,
        )
        used: set[int] = set()
        for iou, tid, i in pairs:
            if iou < self.min_iou or tid in found or i in used:
                continue
            found[tid] = detections[i]
            used.add(i)
        unmatched = [d for i, d in enumerate(detections) if i not in used]
        for tid, track in self.tracks.items():
            if tid in found:
                continue
            near = [
                b
                for b in self.aligner.detect_boxes(gray, near=track.box)
                if box_iou(b, track.box) >= self.min_iou
            ]
            if near:
                found[tid] = max(near, key=lambda b: box_iou(b, track.box))
        if unmatched and (self.all_faces or not self.tracks):
            for box in unmatched if self.all_faces else unmatched[:1]:  # detections come largest first
                if all(box_iou(box, b) < self.min_iou for b in found.values()):
                    found[self._new_track(box)] = box
        self._age(found)
        self._frame += 1
        out = {}
        for tid, box in found.items():
            eyes = self.aligner.eyes(gray, box)
            out[tid] = FaceObservation(tuple(float(v) for v in box), self.aligner.align(frame, eyes))
        return out

    def _new_track(self, box: Box) -> int:
        tid = self._next_id
        self._next_id += 1
        self.tracks[tid] = _Track(box)
        return tid

    def _age(self, found: dict[int, Box]) -> None:
        for tid in list(self.tracks):
            track = self.tracks[tid]
            if tid in found:
                track.box, track.missed = found[tid], 0
            else:
                track.missed += 1
                if track.missed > self.max_missed:
                    del self.tracks[tid]
