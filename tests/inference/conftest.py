"""Fixtures for the inference tests: a tiny clip cache, tiny model folders and short videos on disk."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fer3d.data.cache import ClipStore, write_store
from fer3d.data.prepare import PrepareConfig
from fer3d.presets import get_config
from media import MEDIA_ENV, media_dir  # noqa: F401  (re-exported to the tests)

CLASSES = ("anger", "happy", "surprise")


def write_tiny_store(
    root: Path, *, size: int = 32, frames: int = 10, per_class: int = 4, seed: int = 0
) -> ClipStore:
    """A clip cache whose class is a bright square growing in a class-specific corner (faces none)."""
    rng = np.random.default_rng(seed)
    clips, records = [], []
    for label in range(len(CLASSES)):
        for i in range(per_class):
            clip = (rng.random((frames, size, size)) * 60).astype(np.uint8)
            y0, x0 = (label // 2) * size // 2, (label % 2) * size // 2
            for t in range(frames):
                grow = int(size * 0.45 * (t + 1) / frames)
                clip[t, y0 : y0 + grow, x0 : x0 + grow] = 220
            clips.append(clip)
            records.append(
                {"subject": f"S{i:03d}", "sequence_id": f"S{i:03d}_{label}", "label": label, "source": ""}
            )
    raw = np.stack(clips)
    prep = PrepareConfig(frames=frames, size=size, color="gray", faces="none")
    from dataclasses import asdict

    meta = {
        "dataset": "tiny",
        "root": str(root),
        "fingerprint": f"tiny-{seed}-{size}",
        "class_names": list(CLASSES),
        "prepare": asdict(prep),
        "records": records,
        "skipped": [],
        "notes": [],
    }
    return write_store(root, raw, raw.copy(), meta)


def tiny_config(**overrides):
    return get_config("ckplus-paper", "tiny", {"input.clahe": False, "train.precision": "fp32", **overrides})


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    """Write RGB or gray uint8 frames with OpenCV (mp4v for .mp4, MJPG otherwise)."""
    h, w = frames[0].shape[:2]
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix == ".mp4" else "MJPG"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, (w, h))
    assert writer.isOpened(), f"cannot write {path}"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame[..., ::-1].copy())
    writer.release()
    return path


def square_video(path: Path, n: int = 30, size: tuple[int, int] = (96, 128), corner: int = 1) -> Path:
    """A gray video of a square growing in one corner, like the tiny store's class ``corner``."""
    h, w = size
    frames = []
    for t in range(n):
        img = np.full((h, w), 30, np.uint8)
        grow = int(min(h, w) * 0.45 * ((t % 10) + 1) / 10)
        y0, x0 = (corner // 2) * h // 2, (corner % 2) * w // 2
        img[y0 : y0 + grow, x0 : x0 + grow] = 220
        frames.append(img)
    return write_video(path, frames)


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory) -> ClipStore:
    return write_tiny_store(tmp_path_factory.mktemp("cache") / "tiny")


@pytest.fixture(scope="module")
def tiny_model(tiny_store, tmp_path_factory) -> Path:
    """A model folder trained (2 epochs, tiny profile) on the tiny store."""
    from fer3d.inference.final import train_final

    return train_final(tiny_store, tiny_config(), tmp_path_factory.mktemp("models") / "tiny", progress=False)
