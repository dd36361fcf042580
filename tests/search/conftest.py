from __future__ import annotations

import pytest

from fer3d.config import ExperimentConfig
from fer3d.presets import get_config


@pytest.fixture
def tiny_base() -> ExperimentConfig:
    """The cheapest config that still trains: tiny profile, one epoch."""
    return get_config("ckplus-paper", "tiny", {"train.epochs": 1})
