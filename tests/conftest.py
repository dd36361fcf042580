"""Fixtures shared by the whole suite: tiny CK+-layout trees and prepared caches built in tmp_path."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # CI has two cores; tests are tiny and one thread avoids oversubscription


def write_fake_ckplus(
    root: Path,
    subjects: int = 6,
    classes: int = 3,
    frames: tuple[int, int] = (4, 12),
    size: int = 24,
    seed: int = 0,
) -> Path:
    """A CK+-layout tree whose label is a bright bar growing from the centre of a class-specific row band
    (mirror-symmetric, so flipping augmentation keeps the label)."""
    rng = np.random.default_rng(seed)
    for s in range(1, subjects + 1):
        subject = f"S{s:03d}"
        for seq, label in enumerate(rng.permutation(classes), start=1):
            n = int(rng.integers(frames[0], frames[1] + 1))
            seq_dir = root / "cohn-kanade-images" / subject / f"{seq:03d}"
            seq_dir.mkdir(parents=True)
            for f in range(1, n + 1):
                img = (rng.random((size, size)) * 60).astype(np.uint8)
                half = int(size * 0.45 * f / n)
                band = size // classes
                y0 = int(label) * band
                img[y0 + 1 : y0 + band - 1, size // 2 - half : size // 2 + half] = 220
                cv2.imwrite(str(seq_dir / f"{subject}_{seq:03d}_{f:08d}.png"), img)
            emo_dir = root / "Emotion" / subject / f"{seq:03d}"
            emo_dir.mkdir(parents=True)
            (emo_dir / f"{subject}_{seq:03d}_{n:08d}_emotion.txt").write_text(f"   {label + 1:.7e}\n")
    return root


@pytest.fixture
def fake_ckplus(tmp_path: Path) -> Path:
    return write_fake_ckplus(tmp_path / "ckplus")


@pytest.fixture
def fake_store(tmp_path: Path):
    """A prepared clip cache (6 subjects x 3 classes, 10 frames of 24x24 gray)."""
    from fer3d.data.prepare import PrepareConfig, prepare
    from fer3d.data.registry import read_dataset

    root = write_fake_ckplus(tmp_path / "ckplus")
    return prepare(
        read_dataset("ckplus", root), tmp_path / "cache", PrepareConfig(size=24), workers=1, progress=False
    )
