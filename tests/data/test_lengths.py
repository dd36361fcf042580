"""Fitting short sequences to the clip length: pad, nearest and linear resampling."""

from __future__ import annotations

import numpy as np
import pytest

from fer3d.data.lengths import SHORT_MODES, fit_length
from fer3d.data.sequence_frames import pad_to_length


def _frames(values: list[int]) -> list[np.ndarray]:
    return [np.full((2, 3), v, np.uint8) for v in values]


def _values(frames: list[np.ndarray]) -> list[int]:
    return [int(f[0, 0]) for f in frames]


def test_pad_is_todays_behaviour() -> None:
    frames = _frames([10, 20, 30])
    assert _values(fit_length(frames, 10, "pad")) == _values(pad_to_length(frames, 10))
    assert _values(fit_length(frames, 6, "pad")) == [10, 20, 30, 30, 30, 30]


@pytest.mark.parametrize("mode", SHORT_MODES)
def test_long_sequences_keep_their_last_frames(mode: str) -> None:
    assert _values(fit_length(_frames(list(range(12))), 10, mode)) == list(range(2, 12))


def test_nearest_spreads_every_frame_over_the_clip() -> None:
    out = _values(fit_length(_frames([0, 100, 200]), 10, "nearest"))
    assert out == [0, 0, 0, 100, 100, 100, 100, 200, 200, 200]


def test_linear_blends_neighbouring_frames() -> None:
    out = _values(fit_length(_frames([0, 90]), 10, "linear"))
    assert out == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert fit_length(_frames([0, 90]), 10, "linear")[0].dtype == np.uint8


@pytest.mark.parametrize("mode", SHORT_MODES)
def test_one_frame_is_repeated(mode: str) -> None:
    assert _values(fit_length(_frames([7]), 4, mode)) == [7, 7, 7, 7]


def test_bad_mode_and_empty_input_are_errors() -> None:
    with pytest.raises(ValueError, match="pad, nearest, linear"):
        fit_length(_frames([1, 2]), 4, "cubic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one frame"):
        fit_length([], 4)
