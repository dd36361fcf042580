"""Batched clip augmentation on the training device: mirror, rotation, linear contrast.

Each clip gets one random transform applied to all of its frames, so motion is preserved.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fer3d.config import AugmentConfig


def augment(
    clips: torch.Tensor, config: AugmentConfig, generator: torch.Generator, strength: float = 1.0
) -> torch.Tensor:
    """``clips``: float ``[B, C, T, H, W]`` in [0, 1]. Returns a new tensor of the same shape.

    ``strength`` in [0, 1] scales the mirror probability, the rotation range and the contrast spread
    around 1 (the augmentation schedule, ``AugmentConfig.strength``); 0 returns the clips unchanged.
    """
    b, c, t, h, w = clips.shape
    if strength <= 0:
        return clips
    params = _draw(b, config, generator, strength)
    if not params:
        return clips
    # Drawn on the CPU generator (the same augmentation on any device) and moved in one copy: on a GPU
    # every copy from pageable host memory first waits for the queued work.
    moved = torch.cat(list(params.values()), dim=1).to(clips.device)
    drawn = dict(zip(params, moved.split([p.shape[1] for p in params.values()], dim=1), strict=True))
    if "flip" in drawn:
        flip = drawn["flip"].view(b, 1, 1, 1, 1) > 0.5
        clips = torch.where(flip, clips.flip(-1), clips)
    if "theta" in drawn:
        flat = clips.reshape(b, c * t, h, w)  # one warp per clip, shared by its frames
        theta = drawn["theta"].reshape(b, 2, 3).to(clips.dtype)
        grid = F.affine_grid(theta, list(flat.shape), align_corners=False)
        clips = F.grid_sample(flat, grid, mode="bilinear", padding_mode="border", align_corners=False)
        clips = clips.reshape(b, c, t, h, w)
    if "alpha" in drawn:
        alpha = drawn["alpha"].view(b, 1, 1, 1, 1)
        mean = clips.mean(dim=(1, 2, 3, 4), keepdim=True)
        clips = ((clips - mean) * alpha + mean).clamp(0, 1)
    return clips


def _draw(
    b: int, config: AugmentConfig, generator: torch.Generator, strength: float
) -> dict[str, torch.Tensor]:
    """Each transform's random parameters for ``b`` clips, ``[b, k]`` float tensors on the CPU, drawn in a
    fixed order: ``flip`` (1 where mirrored), ``theta`` (the rotation's 2x3 affine matrix, flattened),
    ``alpha`` (the contrast factor)."""

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(b, generator=generator) * (high - low) + low

    params = {}
    if config.mirror:
        params["flip"] = (torch.rand(b, generator=generator) < 0.5 * strength).float().view(b, 1)
    if config.rotation_deg > 0:
        degrees = config.rotation_deg * strength
        angle = uniform(-degrees, degrees) * (math.pi / 180)
        cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
        theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
        params["theta"] = theta.reshape(b, 6)
    low, high = (1 + (bound - 1) * strength for bound in config.contrast)
    if (low, high) != (1.0, 1.0):
        params["alpha"] = uniform(low, high).view(b, 1)
    return params
