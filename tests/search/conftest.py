from __future__ import annotations

import pytest

from fer3d.config import ExperimentConfig
from fer3d.presets import get_config


@pytest.fixture
def tiny_base() -> ExperimentConfig:
    """The cheapest config that still trains: tiny profile, one epoch."""
    return get_config("ckplus-paper", "tiny", {"train.epochs": 1})


@pytest.fixture
def chance_base(tiny_base: ExperimentConfig) -> ExperimentConfig:
    """A learning rate too small to learn in one epoch: near-chance predictions, so a threshold of 1.0
    prunes a trial at its first fold (a cheap trial for tests about counting and storage)."""
    return tiny_base.with_overrides({"train.lr": 1e-7})
