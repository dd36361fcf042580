"""What prediction produces: one row per sliding window and one per frame, as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fer3d.inference.tracking import Box

OK = "ok"
NO_FACE = "no_face"
UNCERTAIN = "uncertain"  # the label shown for a window whose top probability is below the threshold


@dataclass
class WindowResult:
    """One sliding window of one face track.

    ``status`` is ``"ok"`` when the face was found in every frame of the window (then it has
    probabilities) and ``"no_face"`` otherwise: nothing is guessed for frames without a face.
    ``track`` is None for a window in which no face was followed at all. ``uncertain`` marks an ``ok``
    window whose top (smoothed) probability is below the prediction's ``min_confidence``: its label
    is then ``"uncertain"``, and ``top_label`` still names the most probable class.
    """

    track: int | None
    start_frame: int
    end_frame: int
    t_start: float
    t_end: float
    status: str
    face_frames: int
    raw: np.ndarray | None = None  # probabilities from the model
    smoothed: np.ndarray | None = None  # after temporal smoothing (== raw without smoothing)
    uncertain: bool = False

    def label(self, class_names: tuple[str, ...]) -> str:
        """The class shown: the most probable one, ``"uncertain"`` below the threshold, or ``"no_face"``."""
        if self.smoothed is None:
            return NO_FACE
        return UNCERTAIN if self.uncertain else class_names[int(np.argmax(self.smoothed))]

    def top_label(self, class_names: tuple[str, ...]) -> str | None:
        """The most probable class whatever its probability (None without a face)."""
        return class_names[int(np.argmax(self.smoothed))] if self.smoothed is not None else None

    def confidence(self) -> float | None:
        return float(np.max(self.smoothed)) if self.smoothed is not None else None


@dataclass
class FrameRecord:
    frame: int
    time: float
    faces: dict[int, Box] = field(default_factory=dict)  # track id -> box


@dataclass
class PredictionResult:
    source: str
    class_names: tuple[str, ...]
    fps: float
    window: int
    stride: int
    smooth: str
    smooth_window: int
    face_mode: str
    backend: str
    windows: list[WindowResult] = field(default_factory=list)
    frames: list[FrameRecord] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the whole prediction
    min_confidence: float = 0.0  # windows whose top probability is below it are shown as uncertain

    @property
    def uncertain_fraction(self) -> float:
        """Share of classified windows shown as uncertain."""
        ok = [w for w in self.windows if w.status == OK]
        return sum(w.uncertain for w in ok) / max(1, len(ok))

    @property
    def face_fraction(self) -> float:
        """Share of frames in which at least one face was found."""
        return sum(bool(f.faces) for f in self.frames) / max(1, len(self.frames))

    @property
    def frames_per_second(self) -> float:
        return len(self.frames) / max(self.seconds, 1e-9)
