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
    params = draw_params(len(clips), config, generator, strength)
    return apply_params(clips, params.to(clips.device), config)


def draw_params(b: int, config: AugmentConfig, generator: torch.Generator, strength: float) -> torch.Tensor:
    """The random parameters of ``b`` clips as one float ``[b, k]`` CPU tensor, drawn in a fixed order
    and laid out as :func:`param_columns` says (``k == 0`` when nothing is drawn, as at strength 0).

    Drawn on the CPU generator, so the augmentation is the same on any device; one tensor, so moving a
    whole epoch's parameters to a GPU is one copy (each copy from pageable memory waits for the queue).
    """
    if strength <= 0:
        return torch.empty(b, 0)

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(b, generator=generator) * (high - low) + low

    columns, params = param_columns(config), []
    if "flip" in columns:
        params.append((torch.rand(b, generator=generator) < 0.5 * strength).float().view(b, 1))
    if "theta" in columns:
        degrees = config.rotation_deg * strength
        angle = uniform(-degrees, degrees) * (math.pi / 180)
        cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
        theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
        params.append(theta.reshape(b, 6))
    if "alpha" in columns:
        low, high = (1 + (bound - 1) * strength for bound in config.contrast)
        params.append(uniform(low, high).view(b, 1))
    return torch.cat(params, dim=1) if params else torch.empty(b, 0)


def param_columns(config: AugmentConfig) -> dict[str, int]:
    """The transforms ``draw_params`` draws for (strength > 0) and their column counts, in order:
    ``flip`` (1 where mirrored), ``theta`` (the rotation's 2x3 affine matrix, flattened), ``alpha``
    (the contrast factor)."""
    columns = {"flip": 1} if config.mirror else {}
    if config.rotation_deg > 0:
        columns["theta"] = 6
    if tuple(config.contrast) != (1.0, 1.0):
        columns["alpha"] = 1
    return columns


def apply_params(clips: torch.Tensor, params: torch.Tensor, config: AugmentConfig) -> torch.Tensor:
    """Augment float ``clips [B, C, T, H, W]`` with ``params [B, k]`` from :func:`draw_params` (on the
    clips' device); with ``k == 0`` the clips come back unchanged."""
    if params.shape[1] == 0:
        return clips
    b, c, t, h, w = clips.shape
    columns = param_columns(config)
    drawn = dict(zip(columns, params.split(list(columns.values()), dim=1), strict=True))
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
