"""An exponential moving average of a model's weights, kept during training and loaded at its end.

Averaging the weights over the last steps of training (Polyak averaging) gives a model that
generalises better than the last step's weights; ``fit`` loads the average into the model before the
batch-norm recalibration, so every caller gets the averaged model without a change on its side.
"""

from __future__ import annotations

import torch
from torch import nn


class WeightAverage:
    """The running average ``avg = d * avg + (1 - d) * w`` of every parameter of ``model``.

    The decay of update ``t`` (1-based) is ``min(decay, (1 + t) / (10 + t))``, the usual warm-up of
    the decay: early averages follow the fast-changing weights instead of staying near the random
    initial ones, which matters for trainings of a few hundred steps. Buffers (batch-norm statistics)
    are not averaged: ``fit`` recalibrates them for the averaged weights.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self._params = [p for p in model.parameters() if p.requires_grad]
        self._average = [p.detach().clone() for p in self._params]

    @torch.no_grad()
    def update(self) -> None:
        """Fold the model's current weights into the average (call after each optimiser step)."""
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self._average, [p.detach() for p in self._params], 1.0 - decay)

    @torch.no_grad()
    def load_into_model(self) -> None:
        """Copy the averaged weights into the model's parameters (in place)."""
        for param, average in zip(self._params, self._average, strict=True):
            param.copy_(average)
