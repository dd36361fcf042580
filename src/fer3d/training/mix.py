"""Mixup and CutMix of whole clips, for batches of ``[B, C, T, H, W]`` model inputs.

Each clip is mixed with one other clip of the batch (a random pairing) with its own weight
``lam ~ Beta(alpha, alpha)``: mixup blends the two clips, cutmix pastes a box of the partner into it,
the same box on every frame, so both clips' motion is kept. The targets are mixed with the same weight
(for cutmix, the box's exact area fraction).
"""

from __future__ import annotations

import numpy as np
import torch

from fer3d.config import Mix


def mix_batch(
    inputs: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    mode: Mix,
    alpha: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixed ``inputs [B, C, T, H, W]`` and soft targets ``[B, num_classes]`` (float32) for integer
    ``labels [B]``. All random draws come from the CPU ``generator``, so they are the same on any
    device. ``mode`` "none" returns the inputs unchanged with one-hot targets."""
    b, _, _, h, w = inputs.shape
    one_hot = torch.nn.functional.one_hot(labels, num_classes).float()
    if mode == "none":
        return inputs, one_hot
    lam = _beta(alpha, b, generator)
    partner = torch.randperm(b, generator=generator)
    if mode == "mixup":
        weight = lam.to(inputs.device, inputs.dtype).view(b, 1, 1, 1, 1)
        mixed = inputs * weight + inputs[partner.to(inputs.device)] * (1 - weight)
    else:
        mixed, lam = _cutmix(inputs, partner, lam, generator, h, w)
    lam = lam.to(one_hot.device).view(b, 1)
    targets = one_hot * lam + one_hot[partner.to(one_hot.device)] * (1 - lam)
    return mixed, targets


def _cutmix(
    inputs: torch.Tensor, partner: torch.Tensor, lam: torch.Tensor, generator: torch.Generator, h: int, w: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste into each clip a box of its partner covering about ``1 - lam`` of the frame (the same box
    on every frame); returns the clips and the kept area fraction of each."""
    b = len(lam)
    cut = (1 - lam).sqrt()
    box_h, box_w = (cut * h).round().long(), (cut * w).round().long()
    centre = torch.rand(b, 2, generator=generator)
    top = ((centre[:, 0] * h).long() - box_h // 2).clamp(0, h)
    left = ((centre[:, 1] * w).long() - box_w // 2).clamp(0, w)
    bottom = (top + box_h).clamp(0, h)
    right = (left + box_w).clamp(0, w)
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    inside = (
        (rows >= top.view(b, 1, 1))
        & (rows < bottom.view(b, 1, 1))
        & (cols >= left.view(b, 1, 1))
        & (cols < right.view(b, 1, 1))
    )
    kept = 1 - inside.flatten(1).float().mean(dim=1)
    mask = inside.to(inputs.device).view(b, 1, 1, h, w)
    mixed = torch.where(mask, inputs[partner.to(inputs.device)], inputs)
    return mixed, kept


def _beta(alpha: float, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` draws of Beta(alpha, alpha), from a numpy generator seeded by ``generator`` (torch's
    Beta sampler takes no generator)."""
    seed = int(torch.randint(2**62, (1,), generator=generator))
    return torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, n)).float()
