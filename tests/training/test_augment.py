"""Batched augmentation: shape and range kept, one transform per clip shared by all its frames."""

from __future__ import annotations

import math

import pytest
import torch

from fer3d.config import AugmentConfig
from fer3d.training.augment import augment, draw_params, param_columns, transforms


def _clips(b: int = 8) -> torch.Tensor:
    """Clips whose frames are all the same image (different per clip), so a per-frame transform shows."""
    frame = torch.rand(b, 1, 1, 24, 24, generator=torch.Generator().manual_seed(0))
    return frame.expand(b, 1, 6, 24, 24).contiguous()


def test_shape_and_range_are_kept() -> None:
    clips = _clips()
    out = augment(clips, AugmentConfig(), torch.Generator().manual_seed(0))
    assert out.shape == clips.shape
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, clips)


def test_every_frame_of_a_clip_gets_the_same_transform() -> None:
    out = augment(
        _clips(), AugmentConfig(rotation_deg=15, contrast=(0.5, 1.5)), torch.Generator().manual_seed(0)
    )
    assert torch.allclose(out, out[:, :, :1].expand_as(out), atol=1e-6)


def test_clips_get_different_transforms() -> None:
    clips = _clips(1).expand(8, 1, 6, 24, 24).contiguous()  # eight copies of one clip
    out = augment(clips, AugmentConfig(), torch.Generator().manual_seed(0))
    assert len({round(float(c.sum()), 3) for c in out}) > 1


def test_mirror_only_flips_whole_clips_or_leaves_them() -> None:
    clips = _clips()
    out = augment(clips, AugmentConfig(rotation_deg=0, contrast=(1.0, 1.0)), torch.Generator().manual_seed(0))
    for original, augmented in zip(clips, out, strict=True):
        assert torch.equal(augmented, original) or torch.equal(augmented, original.flip(-1))


def test_same_generator_seed_gives_the_same_augmentation() -> None:
    a = augment(_clips(), AugmentConfig(), torch.Generator().manual_seed(5))
    b = augment(_clips(), AugmentConfig(), torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_strength_zero_leaves_clips_unchanged() -> None:
    clips = _clips()
    assert torch.equal(augment(clips, AugmentConfig(), torch.Generator().manual_seed(0), strength=0.0), clips)


def test_strength_one_is_the_full_augmentation() -> None:
    full = augment(_clips(), AugmentConfig(), torch.Generator().manual_seed(3))
    scheduled = augment(_clips(), AugmentConfig(), torch.Generator().manual_seed(3), strength=1.0)
    assert torch.allclose(full, scheduled, atol=1e-6)


def test_strength_scales_the_mirror_probability() -> None:
    clips = _clips(2000)
    config = AugmentConfig(rotation_deg=0, contrast=(1.0, 1.0))
    out = augment(clips, config, torch.Generator().manual_seed(0), strength=0.2)
    flipped = sum(not torch.equal(a, c) for a, c in zip(out, clips, strict=True))
    assert 0.07 < flipped / len(clips) < 0.13  # 0.5 x 0.2 = 10% of clips


def test_strength_scales_the_rotation_and_contrast() -> None:
    """Half strength moves clips about half as far from the originals as full strength."""
    clips = _clips(256)
    config = AugmentConfig(mirror=False)

    def mean_change(strength: float) -> float:
        out = augment(clips, config, torch.Generator().manual_seed(1), strength=strength)
        return float((out - clips).abs().mean())

    half, full = mean_change(0.5), mean_change(1.0)
    assert 0.3 * full < half < 0.7 * full


@pytest.mark.parametrize(
    "config",
    [
        AugmentConfig(),
        AugmentConfig(mirror=False),
        AugmentConfig(rotation_deg=0),
        AugmentConfig(contrast=(1.0, 1.0)),
        AugmentConfig(mirror=False, rotation_deg=0, contrast=(1.0, 1.0)),
    ],
)
def test_drawn_parameters_follow_the_declared_columns(config: AugmentConfig) -> None:
    params = draw_params(50, config, torch.Generator().manual_seed(0), 0.5)
    assert params.shape == (50, len(param_columns(config)))
    assert ((params >= 0) & (params < 1)).all()
    drawn = transforms(params, config, 0.5)
    names = {"flip": "flip", "angle": "theta", "alpha": "alpha"}
    assert set(drawn) == {names[column] for column in param_columns(config)}
    if "flip" in drawn:  # mirrored with probability 0.25 at strength 0.5
        assert drawn["flip"].dtype == torch.bool and 0 < drawn["flip"].sum() < 25
    if "theta" in drawn:  # [[cos, -sin, 0], [sin, cos, 0]], angle within +-5 degrees at strength 0.5
        theta = drawn["theta"]
        assert theta.shape == (50, 2, 3)
        torch.testing.assert_close(theta[:, 0, 0] ** 2 + theta[:, 1, 0] ** 2, torch.ones(50))
        assert torch.equal(theta[:, 0, 1], -theta[:, 1, 0]) and not theta[:, :, 2].any()
        assert (theta[:, 0, 0] >= math.cos(math.radians(5)) - 1e-6).all()
    if "alpha" in drawn:  # contrast (0.7, 1.3) at strength 0.5
        assert ((drawn["alpha"] >= 0.85) & (drawn["alpha"] <= 1.15)).all()
