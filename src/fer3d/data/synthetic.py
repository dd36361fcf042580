"""Procedural expressive-face sequences written in the CK+ official layout.

Each subject gets an identity (face shape, skin tone, eye spacing, feature sizes, hair, lighting
direction) and a *resting face*: a random mild mixture of expressions (a naturally lowered brow, a
downturned mouth, narrow eyes...). Each sequence grows a set of action-unit-like movements from that
resting face (onset) to the apex, which is the last frame, as in CK+. Because the resting face can be
as strong as a real expression's apex at high difficulty, the last frame alone is ambiguous; the
change from the first frames to the last is what tells the emotion. That is why a 3D-CNN that sees
the clip should beat a single-frame model on this data.

Layout written (read by :class:`fer3d.data.ckplus.CKPlusReader`)::

    OUT/cohn-kanade-images/S001/001/S001_001_00000001.png ...
    OUT/Emotion/S001/001/S001_001_00000012_emotion.txt   # "   5.0000000e+00", named after the last frame

A few sequences per dataset have no emotion file (unlabelled), as in CK+.

Everything is drawn with OpenCV polygons at 2x resolution with sub-pixel coordinates and then
downsampled, so a 96 px frame costs well under a millisecond. Every subject draws from its own child
seed of ``np.random.default_rng(seed)``: output is byte-identical for a seed, and subjects could be
generated in parallel without changing it.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer3d.atomic import atomic_folder, check_output_folder
from fer3d.config import ConfigError
from fer3d.data.ckplus import CKPLUS_CLASSES

__all__ = ["AU_NAMES", "PROTOTYPES", "SynthConfig", "generate", "parse_frame_range"]

# Action-unit-like controls, each roughly in [-1, 1] at a full apex.
AU_NAMES = (
    "brow_raise",  # AU1+2 (+) both brows up / AU4 (-) brows lowered
    "brow_inner",  # AU1 (+) inner ends up (oblique brows) / AU4 (-) inner ends down and together
    "eye_open",  # AU5 (+) upper lid raised / AU6+7 (-) lids tightened, cheeks raised
    "corner",  # AU12 (+) mouth corners up / AU15 (-) corners down
    "mouth_open",  # AU25-27 lips apart, jaw drop
    "stretch",  # AU20 (+) lips stretched sideways / AU23-24 (-) lips pressed and narrowed
    "nose_wrinkle",  # AU9+10 nose wrinkled, upper lip raised
    "contempt",  # AU14 one-sided: right mouth corner up and dimpled
)
_N_AU = len(AU_NAMES)

# Apex prototype per CK+ code (1 anger .. 7 surprise), in AU_NAMES order.
PROTOTYPES: dict[int, np.ndarray] = {
    1: np.array([-0.9, -1.0, -0.3, -0.3, 0.0, -0.9, 0.2, 0.0]),  # anger
    2: np.array([0.0, 0.0, -0.2, 0.0, 0.0, 0.1, 0.0, 1.2]),  # contempt
    3: np.array([-0.5, -0.3, -0.6, -0.5, 0.25, 0.1, 1.2, 0.0]),  # disgust
    4: np.array([0.7, 0.8, 1.1, -0.2, 0.45, 1.0, 0.0, 0.0]),  # fear
    5: np.array([0.0, 0.0, -0.6, 1.2, 0.3, 0.4, 0.0, 0.0]),  # happy
    6: np.array([0.0, 1.1, -0.35, -1.0, 0.0, -0.2, 0.0, 0.0]),  # sadness
    7: np.array([1.1, 0.2, 1.1, 0.0, 1.0, -0.4, 0.0, 0.0]),  # surprise
}
_CODES = {7: (1, 2, 3, 4, 5, 6, 7), 6: (1, 3, 4, 5, 6, 7)}

_SHIFT = 4  # OpenCV sub-pixel bits: coordinates are given in 1/16 pixel
_SUPER = 2  # draw at 2x, then downsample with INTER_AREA
_FACE_SCALE = 1.1  # face units to half-frames: the face fills most of the frame


@dataclass(frozen=True)
class SynthConfig:
    subjects: int = 40
    seed: int = 0
    difficulty: float = 0.5  # 0 easy .. 1 hard: more motion, noise, blur, lighting, resting-face bias
    emotions: int = 7  # 7 = CK+ classes incl. contempt; 6 = without contempt (Oulu-like); still CK+ codes
    sequences_per_emotion: int = 1  # per subject
    image_size: int = 96  # square frames; the face fills most of the frame (use with faces="none")
    min_frames: int = 6  # frames per sequence, drawn uniformly in [min_frames, max_frames]; a short
    max_frames: int = 18  # sequence (e.g. 3-6) still goes from the resting face to the apex
    color: bool = False  # grayscale PNGs (like most of CK+) by default

    def __post_init__(self) -> None:
        checks = [
            (1 <= self.subjects <= 999, f"subjects must be 1..999, got {self.subjects}"),
            (0.0 <= self.difficulty <= 1.0, f"difficulty must be in [0, 1], got {self.difficulty}"),
            (self.emotions in _CODES, f"emotions must be 6 or 7, got {self.emotions}"),
            (1 <= self.sequences_per_emotion <= 50, "sequences_per_emotion must be 1..50"),
            (self.image_size >= 24, f"image_size must be at least 24, got {self.image_size}"),
            (
                2 <= self.min_frames <= self.max_frames <= 999,
                f"need 2 <= min_frames <= max_frames, got {self.min_frames}, {self.max_frames}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"synthetic data: {message}")


def parse_frame_range(text: str) -> tuple[int, int]:
    """``"3-6"`` -> ``(3, 6)``; ``"10"`` -> ``(10, 10)``. Raises :class:`ConfigError` on anything else."""
    parts = text.strip().split("-")
    try:
        low, high = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (None, None)
    except ValueError:
        low = high = None
    if low is None or high is None:
        raise ConfigError(f"synthetic data: frames must be MIN-MAX or N (e.g. 3-6), got {text!r}")
    return low, high


# ----------------------------------------------------------------------------------------------
# Identity


@dataclass(frozen=True)
class _Identity:
    face_w: float
    face_h: float
    face_y: float
    skin: np.ndarray  # BGR float
    bg: np.ndarray
    hair: np.ndarray
    hairline: float
    has_hair: bool
    eye_y: float
    eye_sep: float
    eye_w: float
    eye_h: float
    eye_tilt: float
    iris_r: float
    iris: np.ndarray
    brow_gap: float
    brow_len: float
    brow_arch: float
    brow_thick: float
    brow_dark: float
    nose_y: float
    nose_w: float
    mouth_y: float
    mouth_w: float
    lip_up: float
    lip_low: float
    lip: np.ndarray
    fold: float  # resting depth of nasolabial folds (age)
    glasses: bool
    moustache: bool
    moles: np.ndarray  # (k, 2) positions in face units
    light_angle: float
    light_strength: float
    expressiveness: float
    rest: np.ndarray  # (_N_AU,) resting-face action units
    pose: np.ndarray  # (6,) tx, ty, roll, yaw, pitch, log-scale


def _draw_identity(rng: np.random.Generator, difficulty: float, color: bool) -> _Identity:
    u = rng.uniform
    tone = u(0.0, 1.0)
    light_skin, dark_skin = np.array([185.0, 200.0, 232.0]), np.array([62.0, 88.0, 128.0])
    skin = light_skin * (1 - tone) + dark_skin * tone + rng.normal(0, 6, 3)
    bg = rng.uniform(30, 215) + (rng.normal(0, 25, 3) if color else np.zeros(3))
    hair = np.full(3, u(10, 110)) + (rng.normal(0, 15, 3) if color else 0)
    iris = np.full(3, u(15, 110)) + (rng.normal(0, 20, 3) if color else 0)
    lip = skin * u(0.62, 0.82) + (np.array([-10.0, -5.0, 25.0]) if color else 0)
    if not color:  # keep gray values consistent with the color version's luminance
        skin, hair, iris, lip, bg = (np.full(3, float(np.mean(c))) for c in (skin, hair, iris, lip, bg))

    # Resting face: a mild mixture of one expression (half the time two) plus idiosyncratic noise, scaled
    # with difficulty so that at high difficulty it is as strong as an expression's apex.
    codes = rng.choice(7, size=2, replace=False) + 1
    weights = rng.uniform(0.5, 1.0, 2) * (rng.uniform() < np.array([1.0, 0.5]))
    rest = sum(w * PROTOTYPES[int(c)] for w, c in zip(weights, codes, strict=True))
    rest = rest / max(1.0, float(weights.sum())) + rng.normal(0, 0.35, _N_AU)
    rest *= u(0.6, 1.2) * (0.15 + 1.0 * difficulty)

    n_moles = int(rng.integers(0, 3))
    return _Identity(
        face_w=u(0.60, 0.74),
        face_h=u(0.80, 0.92),
        face_y=u(-0.02, 0.06),
        skin=skin,
        bg=bg,
        hair=hair,
        hairline=u(0.5, 0.68),
        has_hair=bool(u() < 0.85),
        eye_y=u(-0.16, -0.06),
        eye_sep=u(0.24, 0.34),
        eye_w=u(0.075, 0.11),
        eye_h=u(0.032, 0.055),
        eye_tilt=u(-0.12, 0.12),
        iris_r=u(0.032, 0.046),
        iris=iris,
        brow_gap=u(0.085, 0.13),
        brow_len=u(0.17, 0.25),
        brow_arch=u(0.0, 0.035),
        brow_thick=u(0.018, 0.038),
        brow_dark=u(0.35, 0.8),
        nose_y=u(0.14, 0.22),
        nose_w=u(0.065, 0.1),
        mouth_y=u(0.36, 0.46),
        mouth_w=u(0.14, 0.22),
        lip_up=u(0.012, 0.03),
        lip_low=u(0.018, 0.04),
        lip=lip,
        fold=u(0.0, 0.35),
        glasses=bool(u() < 0.12),
        moustache=bool(u() < 0.1),
        moles=np.column_stack([rng.uniform(-0.45, 0.45, n_moles), rng.uniform(-0.3, 0.55, n_moles)]),
        light_angle=u(0, 2 * np.pi),
        light_strength=u(0.05, 0.15 + 0.25 * difficulty),
        expressiveness=u(0.85, 1.15),
        rest=rest,
        pose=rng.normal(0, 1, 6) * np.array([0.02, 0.02, 3.0, 4.0, 3.0, 0.03]) * (0.3 + difficulty),
    )


# ----------------------------------------------------------------------------------------------
# Drawing


class _Canvas:
    """Records face-unit geometry (x right, y down, 1 = half the frame) and draws it through a head pose.

    Yaw and pitch are approximated by moving each point by its depth on an ellipsoidal face, so
    features slide sideways while the outline compresses: enough to look like a turning head. All
    points of a frame are transformed in one numpy call, which keeps a frame well under a millisecond.
    """

    def __init__(self, ident: _Identity) -> None:
        self.ident = ident
        self.shapes: list[np.ndarray] = []
        self.colors: list[np.ndarray] = []
        self.widths: list[float] = []  # 0 = filled polygon, else line width in face units
        self.closed: list[bool] = []

    def fill(self, pts: np.ndarray, color: np.ndarray) -> None:
        self._add(pts, color, 0.0, False)

    def line(self, pts: np.ndarray, color: np.ndarray, width: float, closed: bool = False) -> None:
        self._add(pts, color, width, closed)

    def shade(self, pts: np.ndarray, amount: float, width: float, dark: float = 0.55) -> None:
        """A wrinkle or fold: a skin-coloured line darkened by ``amount`` in [0, 1]."""
        amount = min(1.0, float(amount))
        if amount > 0.03:
            self._add(pts, self.ident.skin * (1 - dark * amount), width, False)

    def _add(self, pts: np.ndarray, color: np.ndarray, width: float, closed: bool) -> None:
        self.shapes.append(np.asarray(pts, np.float64).reshape(-1, 2))
        self.colors.append(color)
        self.widths.append(width)
        self.closed.append(closed)

    def draw(self, size: int, pose: np.ndarray) -> np.ndarray:
        """The recorded shapes on a (size, size, 3) uint8 BGR image seen under ``pose``."""
        ident = self.ident
        img = np.empty((size, size, 3), np.uint8)
        img[:] = np.clip(ident.bg, 0, 255).astype(np.uint8)
        tx, ty, roll, yaw, pitch, log_scale = pose
        r, yaw, pitch = np.deg2rad([roll, yaw, pitch])
        unit = np.exp(log_scale) * size / 2 * _FACE_SCALE  # pixels per face unit
        matrix = unit * np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])
        offset = size / 2 + np.array([tx, ty + ident.face_y]) * size / 2

        pts = np.concatenate(self.shapes)
        fw, fh = ident.face_w, ident.face_h
        depth = 0.7 * fw * np.sqrt(np.clip(1 - (pts[:, 0] / fw) ** 2 - (pts[:, 1] / fh) ** 2, 0, 1))
        x = pts[:, 0] * np.cos(yaw) + depth * np.sin(yaw)
        y = pts[:, 1] * np.cos(pitch) + depth * np.sin(pitch)
        px = np.round((np.column_stack([x, y]) @ matrix.T + offset) * (1 << _SHIFT)).astype(np.int32)
        colors = np.clip(np.array(self.colors), 0, 255).astype(np.int32).tolist()
        at = 0
        for shape, color, width, closed in zip(self.shapes, colors, self.widths, self.closed, strict=True):
            poly = px[at : at + len(shape)].reshape(-1, 1, 2)
            at += len(shape)
            if width == 0:
                cv2.fillPoly(img, [poly], color, cv2.LINE_AA, _SHIFT)
            else:
                thickness = max(1, int(round(width * unit)))
                cv2.polylines(img, [poly], closed, color, thickness, cv2.LINE_AA, _SHIFT)
        return img


@functools.lru_cache(maxsize=64)
def _circle(n: int, start: float, stop: float) -> np.ndarray:
    t = np.deg2rad(np.linspace(start, stop, n))
    return np.column_stack([np.cos(t), np.sin(t)])


def _ellipse(cx: float, cy: float, ax: float, ay: float, n: int = 40, start: float = 0, stop: float = 360):
    return _circle(n, start, stop) * (ax, ay) + (cx, cy)


@functools.lru_cache(maxsize=16)
def _bezier_basis(n: int) -> np.ndarray:
    t = np.linspace(0, 1, n)
    return np.column_stack([(1 - t) ** 2 - (1 - t) * t, 4 * (1 - t) * t, t**2 - (1 - t) * t])


def _bezier(p0, p1, p2, n: int = 11) -> np.ndarray:
    """Quadratic curve from p0 to p2 that passes through p1 at its middle, (n, 2)."""
    return _bezier_basis(n) @ np.array([p0, p1, p2], np.float64)


def _render(size: int, ident: _Identity, au: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """One face at ``size * _SUPER`` pixels, (H, W, 3) uint8 BGR, before lighting, blur and noise."""
    brow_raise, brow_inner, eye_open, corner, mouth_open, stretch, nose_wr, contempt = 1.5 * np.tanh(au / 1.5)
    cv = _Canvas(ident)
    skin, fw, fh = ident.skin, ident.face_w, ident.face_h

    # Head: hair behind, neck, ears, face, hair on top.
    if ident.has_hair:
        cv.fill(_ellipse(0, -0.12, fw * 1.12, fh * 0.98, start=150, stop=390), ident.hair)
    cv.fill(np.array([[-0.3 * fw, 0.5], [0.3 * fw, 0.5], [0.36 * fw, 1.3], [-0.36 * fw, 1.3]]), skin * 0.8)
    for s in (-1, 1):
        cv.fill(_ellipse(s * fw * 0.98, ident.eye_y + 0.12, 0.075, 0.15, n=20), skin * 0.88)
    cv.fill(_ellipse(0, 0, fw, fh), skin)
    if ident.has_hair:
        top = -fh * ident.hairline
        fringe = _ellipse(0, top + 0.04, fw * 1.02, 0.04, n=16, start=180, stop=360)
        crown = _ellipse(0, -0.05, fw * 1.03, fh, n=24, start=350, stop=190)
        cv.fill(np.vstack([fringe, crown]), ident.hair)
    for mx, my in ident.moles:
        cv.fill(_ellipse(mx * fw, my * fh, 0.009, 0.009, n=10), skin * 0.55)

    # Forehead wrinkles (brow raise) and glabella lines (brow lowering).
    ey, es, ew = ident.eye_y, ident.eye_sep, ident.eye_w
    brow_y = ey - ident.brow_gap
    hairline = -fh * ident.hairline if ident.has_hair else -fh
    for k in range(3):
        y = brow_y - 0.07 - 0.045 * k
        if y > hairline + 0.03:
            cv.shade(
                _bezier((-0.2, y + 0.01), (0, y - 0.012), (0.2, y + 0.01), 7),
                0.9 * brow_raise - 0.1 * k,
                0.012,
            )
    frown = max(0.0, -brow_inner) + 0.5 * max(0.0, -brow_raise)
    for s in (-1, 1):
        cv.shade(np.array([[s * 0.03, brow_y + 0.03], [s * 0.022, brow_y - 0.05]]), frown, 0.012)

    # Eyes: sclera, iris, then skin-coloured lids clip the iris; lid line on top.
    xs = np.linspace(-1.25, 1.25, 15)
    prof = np.clip(1 - xs**2, 0, 1) ** 0.8
    blink_open = 1 + (0.7 if eye_open > 0 else 0.6) * eye_open
    upper = ident.eye_h * max(0.08, blink_open)
    lower = 0.7 * ident.eye_h * float(np.clip(1 + 0.45 * min(eye_open, 0.0) + 0.1 * eye_open, 0.25, 1.5))
    for s in (-1, 1):
        cx = s * es
        tilt = -s * ident.eye_tilt * xs * ew
        x = cx + xs * ew
        up, low = ey + tilt - upper * prof, ey + tilt + lower * prof
        cv.fill(np.vstack([np.column_stack([x, up]), np.column_stack([x, low])[::-1]]), np.full(3, 228.0))
        cv.fill(_ellipse(cx + 0.004 * s, ey, ident.iris_r, ident.iris_r, n=20), ident.iris)
        cv.fill(
            _ellipse(cx + 0.004 * s, ey, ident.iris_r * 0.45, ident.iris_r * 0.45, n=12), np.full(3, 12.0)
        )
        lid_top = np.column_stack([x, np.full_like(x, ey - 2.6 * ident.eye_h)])
        lid_bot = np.column_stack([x, np.full_like(x, ey + 2.2 * ident.eye_h)])
        cv.fill(np.vstack([np.column_stack([x, up]), lid_top[::-1]]), skin)
        cv.fill(np.vstack([np.column_stack([x, low]), lid_bot[::-1]]), skin)
        inside = np.abs(xs) <= 1.0
        cv.line(np.column_stack([x, up])[inside], skin * 0.35, 0.012)
        cv.line(np.column_stack([x, low])[inside], skin * 0.7, 0.006)
        crease = up[inside] - 0.022 - 0.25 * ident.eye_h * max(eye_open, 0.0)
        cv.shade(np.column_stack([x[inside], crease]), 0.45 - 0.3 * eye_open, 0.007)
        cv.shade(np.column_stack([x[inside], low[inside] + 0.02]), -0.7 * eye_open - 0.1, 0.008, dark=0.35)

        # Brow: inner end at t=0, outer at t=1.
        t = np.linspace(0, 1, 9)
        inner_x = cx - s * ident.brow_len * 0.5 + s * 0.03 * max(0.0, -brow_inner)
        bx = inner_x + s * ident.brow_len * t
        by = brow_y - ident.brow_arch * np.sin(np.pi * t**0.8)
        by = by - 0.1 * brow_raise * (0.75 + 0.25 * t) - 0.1 * brow_inner * (1 - t) ** 1.6
        brow = np.column_stack([bx, by])
        color = skin * (1 - ident.brow_dark)
        cv.line(brow, color, ident.brow_thick)
        cv.line(brow[:4], color, ident.brow_thick * 1.3)

    if ident.glasses:
        for s in (-1, 1):
            cv.line(
                _ellipse(s * es, ey + 0.005, ew * 1.55, ident.eye_h * 2.8, n=24),
                np.full(3, 30.0),
                0.012,
                True,
            )
        cv.line(np.array([[-es + ew * 1.55, ey], [es - ew * 1.55, ey]]), np.full(3, 30.0), 0.012)

    # Nose: side line, wings, nostrils; wrinkles across the bridge when wrinkled (AU9).
    ny = ident.nose_y - 0.025 * max(nose_wr, 0.0)
    nw = ident.nose_w * (1 + 0.25 * max(nose_wr, 0.0))
    side = 1 if np.cos(ident.light_angle) < 0 else -1
    cv.line(np.array([[side * 0.035, ey + 0.02], [side * nw * 0.7, ny - 0.03]]), skin * 0.8, 0.008)
    for s in (-1, 1):
        cv.line(
            _ellipse(s * nw * 0.75, ny - 0.005, nw * 0.35, 0.03, n=12, start=90 - s * 90, stop=270 - s * 90),
            skin * 0.7,
            0.008,
        )
        cv.fill(_ellipse(s * nw * 0.42, ny + 0.008, 0.022 * (1 + 0.3 * nose_wr), 0.011, n=12), skin * 0.35)
    for k in range(3):
        y = ey + 0.02 + 0.025 * k
        cv.shade(np.array([[-0.05, y], [0.0, y - 0.008], [0.05, y]]), 1.1 * nose_wr - 0.1 * k, 0.009)
        for s in (-1, 1):
            cv.shade(np.array([[s * 0.06, y + 0.01], [s * 0.1, y + 0.04]]), 0.9 * nose_wr - 0.15 * k, 0.008)

    # Mouth: corners move up/down and out, the lips part, the upper lip rises with AU10.
    my, mw = ident.mouth_y, ident.mouth_w
    corners = []
    for s in (-1, 1):
        lift = corner + (contempt if s == 1 else 0.0)
        x = s * mw * (1 + 0.3 * stretch + 0.15 * max(lift, 0.0) + (0.1 * contempt if s == 1 else 0.0))
        corners.append((x, my - 0.085 * lift))
    (lx, ly), (rx, ry) = corners
    opening = max(0.0, mouth_open)
    up_in = my - 0.006 - 0.03 * max(nose_wr, 0.0) - 0.015 * opening
    low_in = my + 0.004 + 0.2 * opening
    lip_up = ident.lip_up * (1 + 0.6 * min(stretch, 0.0))
    lip_low = ident.lip_low * (1 + 0.6 * min(stretch, 0.0) - 0.2 * opening)
    upper_in = _bezier((lx, ly), (0, up_in), (rx, ry))
    lower_in = _bezier((lx, ly), (0, low_in), (rx, ry))
    upper_out = _bezier((lx, ly), (0, up_in - lip_up - 0.008), (rx, ry))
    lower_out = _bezier((lx, ly), (0, low_in + lip_low + 0.006), (rx, ry))

    fold = ident.fold + 0.8 * max(corner, 0.0) + 0.6 * max(nose_wr, 0.0) + 0.3 * max(stretch, 0.0)
    for s, (cx_, cy_) in ((-1, corners[0]), (1, corners[1])):
        extra = 0.7 * contempt if s == 1 else 0.0
        cv.shade(
            _bezier(
                (s * (nw + 0.015), ny - 0.03),
                (s * (abs(cx_) + 0.02), (ny + cy_) / 2),
                (s * (abs(cx_) + 0.035), cy_ + 0.07),
                9,
            ),
            fold + extra * 0.5,
            0.012,
        )
    cv.shade(_ellipse(rx + 0.018, ry, 0.012, 0.02, n=8, start=-70, stop=70), 1.2 * contempt, 0.01)

    if ident.moustache:
        cv.fill(np.vstack([upper_out, (upper_out + [0, -0.05])[::-1]]), ident.hair)
    cv.fill(np.vstack([upper_out, upper_in[::-1]]), ident.lip)
    cv.fill(np.vstack([lower_in, lower_out[::-1]]), ident.lip * 1.05)
    gap = low_in - up_in
    if gap > 0.02:
        cv.fill(np.vstack([upper_in, lower_in[::-1]]), np.full(3, 25.0))
        teeth = min(0.35 * gap, 0.03)
        cv.fill(np.vstack([upper_in, (upper_in + [0, teeth])[::-1]]), np.full(3, 215.0))
    cv.line(upper_in, ident.lip * 0.55, 0.008)
    cv.shade(
        _bezier(
            (-0.05, lower_out[5, 1] + 0.05), (0, lower_out[5, 1] + 0.04), (0.05, lower_out[5, 1] + 0.05), 5
        ),
        0.35 + 0.4 * max(-stretch, 0.0),
        0.008,
    )
    return cv.draw(size * _SUPER, pose)


# ----------------------------------------------------------------------------------------------
# Sequences


@dataclass(frozen=True)
class _Sequence:
    frames: list[np.ndarray]  # (S, S) uint8 gray or (S, S, 3) uint8 BGR
    code: int | None  # CK+ emotion code, None for an unlabelled sequence


def _action_units(
    rng: np.random.Generator, ident: _Identity, code: int | None, n: int, d: float
) -> np.ndarray:
    """(n, _N_AU) action units of a sequence: the resting face, then a ramp to the apex (last frame)."""
    # Target movement: the prototype varied per sequence (or a random one when unlabelled).
    if code is None:
        target = rng.normal(0, 0.5, _N_AU)
    else:
        target = PROTOTYPES[code] * rng.uniform(0.75, 1.25, _N_AU) + rng.normal(0, 0.08, _N_AU)
    amp = ident.expressiveness * rng.uniform(0.8, 1.0) * (1 - 0.45 * d)
    # Onset: neutral (the resting face) until t0, then a smooth ramp to the apex at the last frame. The
    # onset falls at the start of the last 10 frames (the part the models see), so a clip opens on the
    # resting face and then moves for 7-9 frames: most of a clip is expressive, as in CK+, where the last
    # 10 frames are mostly the late ramp. (A later onset, 4-10 frames before the apex, left most of a
    # clip at rest; measured: C3D with average pooling then sat at chance for 15-25 of 30 epochs.)
    t0 = int(rng.integers(max(0, n - 10), max(1, n - 7)))
    t = np.clip((np.arange(n) - t0) / max(1, n - 1 - t0), 0, 1)
    ramp = t**2 * (3 - 2 * t)
    ramp = ramp ** rng.uniform(0.7, 1.4)
    aus = ident.rest + ramp[:, None] * amp * target + rng.normal(0, 0.02 + 0.04 * d, (n, _N_AU))
    if n > 3 and rng.uniform() < 0.15 + 0.35 * d:  # a blink, never on the apex frame
        aus[int(rng.integers(0, n - 2)), 2] = -1.6
    return aus


def _sequence(rng: np.random.Generator, ident: _Identity, code: int | None, cfg: SynthConfig) -> _Sequence:
    d, size = cfg.difficulty, cfg.image_size
    n = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))

    aus = _action_units(rng, ident, code, n, d)

    # Head motion: a drift from one pose to another plus per-frame jitter.
    spread = np.array([0.015, 0.015, 1.5, 2.5, 1.5, 0.015]) * (0.2 + d)
    start = ident.pose + rng.normal(0, 1, 6) * spread
    end = start + rng.normal(0, 1, 6) * spread
    lin = np.linspace(0, 1, n)[:, None]
    poses = start * (1 - lin) + end * lin + rng.normal(0, 1, (n, 6)) * spread * 0.15

    # Lighting: identity direction, drifting per sequence, with a flickering gain.
    angles = ident.light_angle + rng.normal(0, 0.3) + lin[:, 0] * rng.normal(0, 0.1 + 0.4 * d)
    gains = (
        rng.uniform(0.85, 1.1)
        + lin[:, 0] * rng.normal(0, 0.01 + 0.08 * d)
        + rng.normal(0, 0.002 + 0.03 * d, n)
    )
    blur = rng.uniform(0, 0.3 + 1.0 * d) * size / 96
    noise = rng.uniform(1.0, 2.0 + 10.0 * d)

    grid = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    frames = []
    for i in range(n):
        big = _render(size, ident, aus[i], poses[i])
        img = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
        if not cfg.color:
            img = img[..., 0]
        light = gains[i] * (
            1 + ident.light_strength * (np.cos(angles[i]) * grid[None, :] + np.sin(angles[i]) * grid[:, None])
        )
        img *= light if img.ndim == 2 else light[..., None]
        if blur > 0.15:
            img = cv2.GaussianBlur(img, (0, 0), blur)
        img += rng.standard_normal(img.shape, dtype=np.float32) * noise
        frames.append(np.clip(img + 0.5, 0, 255).astype(np.uint8))
    return _Sequence(frames, code)


def _subject_sequences(seed: np.random.SeedSequence, cfg: SynthConfig, unlabelled: int) -> list[_Sequence]:
    """All sequences of one subject, in sequence-number order (emotions shuffled)."""
    rng = np.random.default_rng(seed)
    ident = _draw_identity(rng, cfg.difficulty, cfg.color)
    plan: list[int | None] = [c for c in _CODES[cfg.emotions] for _ in range(cfg.sequences_per_emotion)]
    plan += [None] * unlabelled
    order = rng.permutation(len(plan))
    return [_sequence(rng, ident, plan[i], cfg) for i in order]


def _write(out: Path, subject: str, number: int, seq: _Sequence) -> None:
    name = f"{number:03d}"
    folder = out / "cohn-kanade-images" / subject / name
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(seq.frames, start=1):
        if not cv2.imwrite(str(folder / f"{subject}_{name}_{i:08d}.png"), frame):
            raise OSError(f"{folder}: could not write a frame image")
    if seq.code is not None:
        emotion_dir = out / "Emotion" / subject / name
        emotion_dir.mkdir(parents=True, exist_ok=True)
        path = emotion_dir / f"{subject}_{name}_{len(seq.frames):08d}_emotion.txt"
        path.write_text(f"   {float(seq.code):.7e}\n")


def _write_subject(
    out: Path, k: int, seed: np.random.SeedSequence, cfg: SynthConfig, unlabelled: int
) -> tuple[int, list[int]]:
    """Generate and write subject ``k`` (0-based): (frames written, codes of its labelled sequences)."""
    subject = f"S{k + 1:03d}"
    frames, codes = 0, []
    for number, seq in enumerate(_subject_sequences(seed, cfg, unlabelled), start=1):
        _write(out, subject, number, seq)
        frames += len(seq.frames)
        if seq.code is not None:
            codes.append(seq.code)
    return frames, codes


def generate(out: Path, config: SynthConfig, *, workers: int | None = None) -> str:
    """Write a synthetic CK+-layout dataset to ``out`` and return a one-paragraph summary.

    Frames are (image_size, image_size) grayscale PNGs, or BGR when ``config.color``; the same config
    writes byte-identical files whatever ``workers`` is (processes, one subject each; default: the
    machine's cores up to 8, and no pool for small datasets). ``out`` must not already hold a dataset.
    """
    out = Path(out)
    check_output_folder(out, lambda folder: False, "synthetic dataset", fix="give a new or empty folder")
    root = np.random.SeedSequence(config.seed)
    children = root.spawn(config.subjects)
    # A few unlabelled sequences (about one subject in eight, at least one), as in CK+.
    n_unlabelled = max(1, round(config.subjects / 8))
    chosen = np.random.default_rng(root.spawn(1)[0]).choice(config.subjects, n_unlabelled, replace=False)
    workers = min(8, os.cpu_count() or 1) if workers is None else workers
    # written beside ``out`` and renamed into place at the end: a failed run leaves no partial dataset
    with atomic_folder(out, None, "synthetic dataset") as tmp:
        jobs = [(tmp, k, child, config, int(k in chosen)) for k, child in enumerate(children)]
        if workers > 1 and config.subjects >= 8:
            with ProcessPoolExecutor(min(workers, config.subjects)) as pool:
                results = list(pool.map(_write_subject, *zip(*jobs, strict=True)))
        else:
            results = [_write_subject(*job) for job in jobs]
    frames = sum(n for n, _ in results)
    per_class = Counter(code for _, codes in results for code in codes)
    counts = ", ".join(f"{CKPLUS_CLASSES[c - 1]} {per_class[c]}" for c in _CODES[config.emotions])
    return (
        f"Wrote {sum(per_class.values())} labelled sequences ({counts}) and {n_unlabelled} unlabelled "
        f"from {config.subjects} subjects, {frames} frames of {config.image_size}x{config.image_size} px "
        f"({'color' if config.color else 'grayscale'}), difficulty {config.difficulty:g}, "
        f"seed {config.seed}, to {out} in the CK+ layout (read it with --format ckplus --faces none)."
    )
