"""One place that turns an experiment config and a dataset's shape into a model."""

from __future__ import annotations

from fer3d.config import ExperimentConfig
from fer3d.models.c3d import C3D


def build_model(config: ExperimentConfig, num_classes: int, in_channels: int) -> C3D:
    return C3D(
        config.model,
        num_classes,
        in_channels=in_channels,
        frames=config.input.frames,
        size=config.input.size,
    )
