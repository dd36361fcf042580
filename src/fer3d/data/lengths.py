"""Fitting a sequence's frames to the clip length: how a short sequence becomes ``n`` frames.

- ``pad``: the frames as they are, then the last one repeated (a still tail after the apex);
- ``nearest``: the frames spread evenly over ``n`` steps, each step showing the nearest frame;
- ``linear``: the same steps, each a linear blend of the two frames around it.

Sequences of ``n`` frames or more keep their last ``n`` in every mode.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from fer3d.data.sequence_frames import pad_to_length

ShortMode = Literal["pad", "nearest", "linear"]
SHORT_MODES: tuple[str, ...] = ("pad", "nearest", "linear")


def fit_length(frames: list[np.ndarray], n: int, mode: ShortMode = "pad") -> list[np.ndarray]:
    """``n`` uint8 frames from ``frames`` (1 or more, same shape); see the module docstring for ``mode``."""
    if not frames:
        raise ValueError("fit_length needs at least one frame")
    if mode not in SHORT_MODES:
        raise ValueError(f"short-sequence mode must be one of {', '.join(SHORT_MODES)}, got {mode!r}")
    if mode == "pad" or len(frames) >= n or len(frames) == 1:
        return pad_to_length(frames, n)
    steps = np.linspace(0.0, len(frames) - 1, n)
    if mode == "nearest":
        return [frames[int(np.floor(s + 0.5))] for s in steps]
    out = []
    for s in steps:
        low = int(np.floor(s))
        high = min(low + 1, len(frames) - 1)
        w = float(s - low)
        blend = (1.0 - w) * frames[low].astype(np.float32) + w * frames[high].astype(np.float32)
        out.append(np.clip(np.floor(blend + 0.5), 0, 255).astype(np.uint8))
    return out
