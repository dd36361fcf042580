"""The module that prediction and ONNX export run: float clips in [0, 1] -> class probabilities."""

from __future__ import annotations

import torch
from torch import nn

from fer3d.training.inputs import normalize


class ProbabilityHead(nn.Module):
    """Wraps a classifier with the per-clip normalisation of its config and a softmax.

    Input float ``[B, C, T, S, S]`` in [0, 1]; output ``[B, K]`` probabilities.
    """

    def __init__(self, model: nn.Module, normalize_clips: bool) -> None:
        super().__init__()
        self.model = model
        self.normalize_clips = normalize_clips

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(normalize(clips, self.normalize_clips)), dim=1)
