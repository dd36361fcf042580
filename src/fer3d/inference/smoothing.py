"""Causal temporal smoothing of per-window probabilities (usable live: no future window is needed)."""

from __future__ import annotations

from collections import deque
from typing import Literal

import numpy as np

SmoothMode = Literal["none", "ema", "median"]
SMOOTH_MODES = ("none", "ema", "median")


class Smoother:
    """Smooths one face track's probability vectors in the order they arrive.

    ``ema``: exponential moving average with ``alpha = 2 / (window + 1)`` (the span convention);
    ``median``: per-class median of the last ``window`` vectors, renormalised to sum to 1.
    ``reset()`` starts afresh, e.g. after a stretch without a face, so nothing is carried across it.
    """

    def __init__(self, mode: SmoothMode = "none", window: int = 5) -> None:
        if mode not in SMOOTH_MODES:
            raise ValueError(f"smoothing must be one of {SMOOTH_MODES}, got {mode!r}")
        if window < 1:
            raise ValueError(f"smoothing window must be at least 1, got {window}")
        self.mode, self.window = mode, window
        self.alpha = 2.0 / (window + 1.0)
        self.reset()

    def reset(self) -> None:
        self._state: np.ndarray | None = None
        self._recent: deque[np.ndarray] = deque(maxlen=self.window)

    def __call__(self, probs: np.ndarray) -> np.ndarray:
        probs = np.asarray(probs, dtype=np.float64)
        if self.mode == "ema":
            self._state = (
                probs if self._state is None else self.alpha * probs + (1 - self.alpha) * self._state
            )
            return self._state.copy()
        if self.mode == "median":
            self._recent.append(probs)
            med = np.median(np.stack(self._recent), axis=0)
            return med / max(med.sum(), 1e-12)
        return probs
