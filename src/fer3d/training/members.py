"""Ensemble members: ``config.test.ensemble`` models trained alike from distinct derived seeds.

Member 0 uses the run's own seed, so an ensemble of one is exactly the single model trained before.
Each member costs one full training; its probabilities are averaged with the others' at test time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from fer3d.config import ExperimentConfig
from fer3d.models import build_model
from fer3d.training.recipe import Recipe
from fer3d.training.trainer import EpochCallback, FitResult, fit

# Called on each fresh member model before training: (model, member index) -> None, e.g. a warm start.
InitFn = Callable[[nn.Module, int], None]


class StartingWeights(Protocol):
    """Weights that every trained model starts from (``--init``: ``inference.warm_start.WarmStart``)."""

    def check_fits(self, config: ExperimentConfig, in_channels: int) -> None:
        """Raise a clear error unless the weights fit the model of ``config``."""
        ...

    def describe(self) -> dict[str, Any]:
        """What a run records about them (a run is never resumed from other weights)."""
        ...

    def init_fn(self, class_names: tuple[str, ...]) -> InitFn:
        """The :data:`InitFn` for models whose classes are ``class_names``."""
        ...

    def architecture(self) -> dict[str, Any]:
        """The dotted config fields that shape the weights, with the values they must keep."""
        ...


def member_seed(seed: int, member: int) -> int:
    """The training seed of ensemble ``member`` (0 keeps ``seed``; others derived, distinct per member)."""
    if member == 0:
        return seed
    return int(np.random.SeedSequence([seed, member]).generate_state(1, np.uint32)[0])


def train_members(
    clips: torch.Tensor,
    labels: np.ndarray,
    config: ExperimentConfig,
    recipe: Recipe,
    *,
    num_classes: int,
    in_channels: int,
    seed: int,
    init: InitFn | None = None,
    progress: bool = False,
    on_epoch: EpochCallback | None = None,
) -> Iterator[tuple[nn.Module, FitResult]]:
    """Train the ``config.test.ensemble`` members one after another on uint8 ``clips [N, C, T, H, W]``.

    Yields each trained model with its fit record, so a caller can test and drop a member before the
    next one is trained. A member's initial weights follow torch's global RNG seeded with its seed.
    """
    for member in range(config.test.ensemble):
        member_seed_value = member_seed(seed, member)
        torch.manual_seed(member_seed_value)
        model = build_model(config, num_classes, in_channels)
        if init is not None:
            init(model, member)
        record = fit(
            model,
            clips,
            labels,
            config,
            recipe,
            num_classes=num_classes,
            seed=member_seed_value,
            progress=progress,
            on_epoch=on_epoch,
        )
        yield model, record


def merge_records(records: list[FitResult]) -> FitResult:
    """One record for an ensemble: epoch losses averaged over members, times and clips summed."""
    if len(records) == 1:
        return records[0]
    losses = np.mean([r.epoch_losses for r in records], axis=0).tolist()
    return FitResult(
        epoch_losses=losses,
        seconds=sum(r.seconds for r in records),
        clips_seen=sum(r.clips_seen for r in records),
        data_seconds=sum(r.data_seconds for r in records),
    )
