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
    return apply_transforms(clips, transforms(params.to(clips.device), config, strength))


def draw_params(b: int, config: AugmentConfig, generator: torch.Generator, strength: float) -> torch.Tensor:
    """The random draws of ``b`` clips: a float ``[b, k]`` CPU tensor of uniforms in [0, 1), one column
    per transform of :func:`param_columns` (``k == 0`` when nothing is drawn, as at strength 0).

    One call on the CPU generator, so the augmentation is the same on any device, and since that
    generator fills a tensor in order, drawing ``b1`` then ``b2`` rows gives the rows of one draw of
    ``b1 + b2``: an epoch's batches are drawn at once. The draws become transforms on the clips' device
    (:func:`transforms`), so the host does one operation per epoch instead of a dozen per batch.
    """
    if strength <= 0:
        return torch.empty(b, 0)
    return torch.rand(b, len(param_columns(config)), generator=generator)


def param_columns(config: AugmentConfig) -> list[str]:
    """The transforms ``draw_params`` draws a column for (strength > 0), in order: ``flip``, ``angle``
    (the rotation), ``alpha`` (the contrast factor)."""
    columns = ["flip"] if config.mirror else []
    if config.rotation_deg > 0:
        columns.append("angle")
    if tuple(config.contrast) != (1.0, 1.0):
        columns.append("alpha")
    return columns


def transforms(
    params: torch.Tensor, config: AugmentConfig, strength: float | torch.Tensor
) -> dict[str, torch.Tensor]:
    """The transforms that the uniforms ``params [b, k]`` (:func:`draw_params`) stand for at
    ``strength`` (one for all clips, or ``[b]``, one per clip): ``flip`` (bool ``[b]``, mirrored with
    probability ``strength / 2``), ``theta`` (the rotation's ``[b, 2, 3]`` affine matrix, angle uniform
    in +-``rotation_deg * strength``), ``alpha`` (the contrast factor, uniform in ``contrast`` pulled
    towards 1 by ``strength``)."""
    if params.shape[1] == 0:
        return {}
    # in float32 on the draws' device either way, so one strength or a strength per clip round alike
    strength = torch.as_tensor(strength, dtype=params.dtype, device=params.device)
    drawn = dict(zip(param_columns(config), params.unbind(dim=1), strict=True))
    out = {}
    if "flip" in drawn:
        out["flip"] = drawn["flip"] < 0.5 * strength
    if "angle" in drawn:
        degrees = config.rotation_deg * strength
        angle = (drawn["angle"] * (2 * degrees) - degrees) * (math.pi / 180)
        cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
        out["theta"] = torch.stack([cos, -sin, zero, sin, cos, zero], dim=1).view(-1, 2, 3)
    if "alpha" in drawn:
        low, high = (1 + (bound - 1) * strength for bound in config.contrast)
        out["alpha"] = drawn["alpha"] * (high - low) + low
    return out


def apply_transforms(clips: torch.Tensor, drawn: dict[str, torch.Tensor]) -> torch.Tensor:
    """Augment float ``clips [B, C, T, H, W]`` with the ``transforms`` of their draws (on the clips'
    device); with none the clips come back unchanged."""
    if not drawn:
        return clips
    b, c, t, h, w = clips.shape
    if "flip" in drawn:
        clips = torch.where(drawn["flip"].view(b, 1, 1, 1, 1), clips.flip(-1), clips)
    if "theta" in drawn:
        flat = clips.reshape(b, c * t, h, w)  # one warp per clip, shared by its frames
        theta = drawn["theta"].to(clips.dtype)
        grid = F.affine_grid(theta, list(flat.shape), align_corners=False)
        clips = F.grid_sample(flat, grid, mode="bilinear", padding_mode="border", align_corners=False)
        clips = clips.reshape(b, c, t, h, w)
    if "alpha" in drawn:
        alpha = drawn["alpha"].view(b, 1, 1, 1, 1).to(clips.dtype)
        mean = clips.mean(dim=(1, 2, 3, 4), keepdim=True)
        clips = ((clips - mean) * alpha + mean).clamp(0, 1)
    return clips
