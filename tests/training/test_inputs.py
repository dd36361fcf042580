"""From the uint8 cache to model input: layout, frames, resizing, memoisation, normalisation."""

from __future__ import annotations

import pytest
import torch

from fer3d.config import InputConfig
from fer3d.training.inputs import load_clips, normalize, resize_clips, to_float


def test_load_clips_gives_uint8_channel_first_clips_of_the_requested_size(fake_store) -> None:
    clips = load_clips(fake_store, InputConfig(size=16, frames=6))
    assert clips.dtype == torch.uint8
    assert clips.shape == (len(fake_store.labels), fake_store.channels, 6, 16, 16)


def test_load_clips_keeps_the_last_frames(fake_store) -> None:
    full = load_clips(fake_store, InputConfig(size=24, frames=10)).clone()
    last = load_clips(fake_store, InputConfig(size=24, frames=4))
    assert torch.equal(last, full[:, :, -4:])


def test_load_clips_is_memoised_per_process(fake_store) -> None:
    config = InputConfig(size=24, frames=10)
    assert load_clips(fake_store, config) is load_clips(fake_store, config)


def test_asking_for_more_frames_than_cached_is_a_clear_error(fake_store) -> None:
    with pytest.raises(ValueError, match="frames"):
        load_clips(fake_store, InputConfig(size=24, frames=11))


def test_resize_clips_keeps_constant_images_constant() -> None:
    clips = torch.full((3, 1, 2, 24, 24), 77, dtype=torch.uint8)
    out = resize_clips(clips, 16)
    assert out.shape == (3, 1, 2, 16, 16) and bool((out == 77).all())


def test_to_float_and_normalize() -> None:
    clips = to_float(torch.randint(0, 256, (4, 1, 3, 8, 8), dtype=torch.uint8))
    assert float(clips.min()) >= 0 and float(clips.max()) <= 1
    standard = normalize(clips, True)
    assert torch.allclose(standard.mean(dim=(1, 2, 3, 4)), torch.zeros(4), atol=1e-5)
    assert normalize(clips, False) is clips
