"""fit reports each epoch (index, count, mean loss, elapsed seconds) to its caller as it goes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer3d.models import build_model
from fer3d.presets import get_config
from fer3d.training import fit
from fer3d.training.recipe import choose_recipe


def test_on_epoch_is_called_after_every_epoch_with_its_loss() -> None:
    config = get_config("ckplus-paper", "tiny", {"input.size": 24, "train.epochs": 3, "train.batch_size": 4})
    clips = torch.randint(
        0, 256, (9, 1, 10, 24, 24), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    labels = np.array([0, 1, 2] * 3)
    calls: list[tuple[int, int, float, float]] = []
    steps_before: list[int] = []
    torch.manual_seed(0)
    model = build_model(config, 3, 1)
    optimizer_steps = [0]
    model.register_forward_hook(lambda *args: optimizer_steps.__setitem__(0, optimizer_steps[0] + 1))

    def on_epoch(epoch: int, epochs: int, loss: float, seconds: float) -> None:
        calls.append((epoch, epochs, loss, seconds))
        steps_before.append(optimizer_steps[0])

    result = fit(
        model, clips, labels, config, choose_recipe(config, "cpu"), num_classes=3, seed=0, on_epoch=on_epoch
    )
    assert [(e, n) for e, n, _, _ in calls] == [(0, 3), (1, 3), (2, 3)]
    assert [loss for _, _, loss, _ in calls] == pytest.approx(result.epoch_losses, rel=1e-6)
    seconds = [s for _, _, _, s in calls]
    assert seconds == sorted(seconds) and seconds[0] > 0
    assert steps_before[0] < steps_before[1] < steps_before[2]  # called as the epochs go, not at the end
