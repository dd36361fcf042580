"""Loading frame images with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from fer3d.data.errors import BadInputError

Color = Literal["gray", "rgb"]


def load_frame(path: Path, color: Color) -> np.ndarray:
    """Read one image as uint8 ``[H, W]`` (gray) or ``[H, W, 3]`` (RGB)."""
    return to_color(read_image(path), color)


def read_image(path: Path) -> np.ndarray:
    """Decode one image as stored (gray, BGR or BGRA), with errors that name the file."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise BadInputError(path, "frame file does not exist") from None
    if size == 0:
        raise BadInputError(path, "image file is empty (0 bytes)", "re-copy the file or use --skip-bad")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise BadInputError(
            path, "image cannot be decoded (corrupt or not an image)", "re-copy it or use --skip-bad"
        )
    return image


def to_color(image: np.ndarray, color: Color) -> np.ndarray:
    """Convert a decoded OpenCV image (gray, BGR or BGRA, 8 or 16 bit) to uint8 gray or RGB."""
    if image.dtype != np.uint8:
        image = to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if color == "gray":
        return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return (
        cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    )


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Scale by the dtype's range (65535 for 16 bit), as OpenCV and scikit-image do, never by the
    image's own maximum: the frames of a sequence keep their relative brightness. Floats are 0..1."""
    if np.issubdtype(image.dtype, np.integer):
        scaled = image.astype(np.float32) * (255.0 / np.iinfo(image.dtype).max)
    else:
        scaled = np.nan_to_num(image.astype(np.float32)) * 255.0
    return np.clip(scaled + 0.5, 0, 255).astype(np.uint8)


def is_color_image(image: np.ndarray) -> bool:
    """True when an image (as decoded, before conversion) carries colour information."""
    if image.ndim == 2 or image.shape[2] == 1:
        return False
    b, g, r = image[..., 0], image[..., 1], image[..., 2]
    return not (np.array_equal(b, g) and np.array_equal(g, r))
