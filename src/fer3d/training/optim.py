"""Optimisers of the search space: Adam, or Lookahead (from pytorch-optimizer) wrapped around Adam."""

from __future__ import annotations

import torch
from torch import nn

from fer3d.config import TrainConfig


def make_optimizer(model: nn.Module, config: TrainConfig, *, fused: bool = False) -> torch.optim.Optimizer:
    """Adam (``fused``: one kernel per step for all parameters, on CPU and CUDA) or Lookahead(Adam)."""
    adam = torch.optim.Adam(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=fused or None
    )
    if config.optimizer == "adam":
        return adam
    from pytorch_optimizer import Lookahead

    return Lookahead(adam, k=5, alpha=0.5)


def base_optimizer(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The Adam inside a Lookahead wrapper (the one a learning-rate scheduler must drive)."""
    return getattr(optimizer, "optimizer", optimizer)
