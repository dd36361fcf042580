"""Batched augmentation: shape and range kept, one transform per clip shared by all its frames."""

from __future__ import annotations

import torch

from fer3d.config import AugmentConfig
from fer3d.training.augment import augment


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
