"""The exponential moving average of the weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fer3d.training.ema import WeightAverage


def test_the_average_follows_the_warmed_up_decay() -> None:
    layer = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.0)
    average = WeightAverage(layer, decay=0.9)
    expected = 0.0
    for step, value in enumerate([1.0, 2.0, 3.0, 4.0], start=1):
        with torch.no_grad():
            layer.weight.fill_(value)
        average.update()
        decay = min(0.9, (1 + step) / (10 + step))
        expected = decay * expected + (1 - decay) * value
    average.load_into_model()
    assert torch.allclose(layer.weight, torch.full((1, 2), expected))


def test_loading_changes_only_the_parameters_not_the_buffers() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    average = WeightAverage(model, decay=0.5)
    start = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        model[1].running_mean.fill_(7.0)
    average.load_into_model()  # no update since the copy: the average is the starting weights
    assert all(torch.equal(p, s) for p, s in zip(model.parameters(), start, strict=True))
    assert torch.equal(model[1].running_mean, torch.full((2,), 7.0))


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1])
def test_decay_outside_the_open_unit_interval_is_rejected(decay: float) -> None:
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(nn.Linear(2, 1), decay)
