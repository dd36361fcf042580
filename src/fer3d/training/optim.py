"""Optimisers of the search space: Adam, or Lookahead (from pytorch-optimizer) wrapped around Adam."""

from __future__ import annotations

import torch
from torch import nn

from fer3d.config import TrainConfig


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    adam = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return adam
    from pytorch_optimizer import Lookahead

    return Lookahead(adam, k=5, alpha=0.5)
