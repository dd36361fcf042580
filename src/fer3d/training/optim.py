"""Optimisers: Adam or AdamW (decoupled weight decay), each optionally inside Lookahead (from
pytorch-optimizer); and the per-epoch learning-rate schedule (optional linear warm-up, then cosine)."""

from __future__ import annotations

import math

import torch
from torch import nn

from fer3d.config import TrainConfig


def make_optimizer(model: nn.Module, config: TrainConfig, *, fused: bool = False) -> torch.optim.Optimizer:
    """Adam (L2 ``weight_decay`` added to the gradient) or AdamW (weight decay applied to the weights,
    decoupled from the adaptive step), wrapped in Lookahead(k=5, alpha=0.5) for the ``lookahead_*``
    choices. ``fused``: one kernel per step for all parameters, on CPU and CUDA."""
    adam_class = torch.optim.AdamW if config.optimizer in ("adamw", "lookahead_adamw") else torch.optim.Adam
    inner = adam_class(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=fused or None
    )
    if not config.optimizer.startswith("lookahead_"):
        return inner
    from pytorch_optimizer import Lookahead

    return Lookahead(inner, k=5, alpha=0.5)


def base_optimizer(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The Adam inside a Lookahead wrapper (the one a learning-rate scheduler must drive)."""
    return getattr(optimizer, "optimizer", optimizer)


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig
) -> torch.optim.lr_scheduler.LRScheduler:
    """Stepped once per epoch: cosine annealing over ``epochs`` or, with ``warmup_epochs`` w > 0, the lr
    at ``(e + 1) / (w + 1)`` of its value for epochs ``e < w``, then a cosine over the remaining ones."""
    base = base_optimizer(optimizer)
    if config.warmup_epochs == 0:
        return torch.optim.lr_scheduler.CosineAnnealingLR(base, T_max=config.epochs)
    return torch.optim.lr_scheduler.LambdaLR(
        base, lambda epoch: lr_factor(epoch, config.epochs, config.warmup_epochs)
    )


def lr_factor(epoch: int, epochs: int, warmup_epochs: int) -> float:
    """The fraction of the base lr used in 0-based ``epoch``: linear warm-up, then cosine to 0."""
    if epoch < warmup_epochs:
        return (epoch + 1) / (warmup_epochs + 1)
    return 0.5 * (1 + math.cos(math.pi * (epoch - warmup_epochs) / (epochs - warmup_epochs)))
