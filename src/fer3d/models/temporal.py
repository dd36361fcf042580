"""Temporal heads: pool per-time-step features ``[B, T, D]`` into one clip feature ``[B, D']``.

The paper's C3D flattens its last feature map, whose time axis is 1 by then; it names an LSTM over time
as the next step. These heads run over the time steps C3D keeps when ``model.temporal_head`` is set.
"""

from __future__ import annotations

import torch
from torch import nn


class StepFeatures(nn.Module):
    """``[B, C, T, H, W]`` -> ``[B, T, C*H*W]``: one feature vector per time step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 1, 3, 4).flatten(2)


class LSTMPool(nn.Module):
    """An LSTM over ``[B, T, features]``; returns its last hidden state ``[B, hidden]``."""

    def __init__(self, features: int, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.out_features = hidden

    def forward(self, steps: torch.Tensor) -> torch.Tensor:
        _, (last, _) = self.lstm(steps)
        return last[-1]


class AttentionPool(nn.Module):
    """Additive attention over time: weights ``softmax_t(v . tanh(W x_t))``; returns ``sum_t a_t x_t``
    ``[B, features]``."""

    def __init__(self, features: int, hidden: int) -> None:
        super().__init__()
        self.project = nn.Linear(features, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)
        self.out_features = features

    def forward(self, steps: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.score(torch.tanh(self.project(steps))), dim=1)  # [B, T, 1]
        return (weights * steps).sum(dim=1)


TEMPORAL_POOLS: dict[str, type[LSTMPool] | type[AttentionPool]] = {
    "lstm": LSTMPool,
    "attention": AttentionPool,
}
