"""Causal smoothing of probability vectors."""

from __future__ import annotations

import numpy as np
import pytest

from fer3d.inference.smoothing import Smoother

A, B = np.array([1.0, 0.0]), np.array([0.0, 1.0])


def test_none_passes_through():
    assert np.array_equal(Smoother("none")(A), A)


def test_ema_follows_the_span_convention():
    smooth = Smoother("ema", window=3)  # alpha = 0.5
    assert np.allclose(smooth(A), A)
    assert np.allclose(smooth(B), [0.5, 0.5])
    assert np.allclose(smooth(B), [0.25, 0.75])


def test_median_ignores_a_single_outlier_and_sums_to_one():
    smooth = Smoother("median", window=3)
    smooth(A)
    smooth(A)
    out = smooth(B)
    assert np.allclose(out, A)
    assert np.isclose(smooth(np.array([0.2, 0.7])).sum(), 1.0)


def test_reset_forgets_the_past():
    smooth = Smoother("ema", window=9)
    smooth(A)
    smooth.reset()
    assert np.allclose(smooth(B), B)


@pytest.mark.parametrize("mode,window", [("mean", 3), ("ema", 0)])
def test_bad_settings(mode, window):
    with pytest.raises(ValueError):
        Smoother(mode, window)
