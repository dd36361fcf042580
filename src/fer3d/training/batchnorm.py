"""Precise batch-norm statistics: recompute BN running averages on the training clips after training.

With short trainings (few hundred steps, as in one LOSO fold on a small dataset) the exponential running
averages still carry their initial values and the weights of early steps, and eval-mode predictions can
collapse to one class. One pass over the (unaugmented) training clips with a cumulative average fixes
that at the cost of a forward pass; the test fold is never touched.
"""

from __future__ import annotations

import torch
from torch import nn

from fer3d.config import ExperimentConfig
from fer3d.training.inputs import model_input, to_float
from fer3d.training.recipe import Recipe


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module, clips: torch.Tensor, config: ExperimentConfig, recipe: Recipe, batch_size: int = 32
) -> None:
    """Reset and re-estimate every BatchNorm layer's running mean/var on uint8 ``clips [N, C, T, H, W]``."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or len(clips) == 0:
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the whole pass
    was_training = model.training
    model.train()
    for first in range(0, len(clips), batch_size):
        batch = clips[first : first + batch_size].to(recipe.device)
        batch = model_input(to_float(batch), config.input.normalize, recipe.channels_last)
        with recipe.autocast():
            model(batch)
    for m, momentum in zip(norms, saved, strict=False):
        m.momentum = momentum
    model.train(was_training)
