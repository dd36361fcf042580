"""Face cropping: whole frames (``faces="none"``) here; the dlib detector and eye alignment plug in
through :func:`make_cropper`."""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np


class SequenceCropper(Protocol):
    def crop(self, frames: list[np.ndarray], where: str) -> np.ndarray:
        """Return uint8 ``[T, S, S]`` or ``[T, S, S, 3]`` crops; raise BadInputError when impossible."""
        ...


class WholeFrameCropper:
    """For data that is already cropped to the face: resize each whole frame to ``size`` x ``size``."""

    def __init__(self, size: int) -> None:
        self.size = size

    def crop(self, frames: list[np.ndarray], where: str) -> np.ndarray:
        return np.stack([cv2.resize(f, (self.size, self.size), interpolation=cv2.INTER_AREA) for f in frames])


def make_cropper(faces: str, size: int, margin: float, upsample: int) -> SequenceCropper:
    if faces == "none":
        return WholeFrameCropper(size)
    if faces == "dlib":
        from fer3d.data.dlib_faces import DlibAlignedCropper

        return DlibAlignedCropper(size=size, margin=margin, upsample=upsample)
    raise ValueError(f"unknown face mode {faces!r}; use 'none' or 'dlib'")
