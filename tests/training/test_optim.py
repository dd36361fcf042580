"""Optimisers (Adam, AdamW, Lookahead around either) and the warm-up + cosine lr schedule."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from fer3d.config import TrainConfig
from fer3d.training.optim import base_optimizer, lr_factor, make_optimizer, make_scheduler


@pytest.mark.parametrize(
    "name,inner,wrapped",
    [
        ("adam", torch.optim.Adam, False),
        ("adamw", torch.optim.AdamW, False),
        ("lookahead_adam", torch.optim.Adam, True),
        ("lookahead_adamw", torch.optim.AdamW, True),
    ],
)
def test_each_optimizer_choice_builds_its_optimizer(name: str, inner: type, wrapped: bool) -> None:
    optimizer = make_optimizer(nn.Linear(3, 2), TrainConfig(optimizer=name, weight_decay=0.1))  # type: ignore[arg-type]
    assert type(base_optimizer(optimizer)) is inner
    assert (base_optimizer(optimizer) is not optimizer) == wrapped


def test_adamw_decays_the_weights_apart_from_the_gradient_step() -> None:
    # with a zero gradient Adam's step is zero and AdamW still shrinks the weights by lr * weight_decay
    for name, expected in (("adamw", 1 - 0.1 * 0.5), ("adam", None)):
        layer = nn.Linear(3, 2)
        before = layer.weight.detach().clone()
        optimizer = make_optimizer(layer, TrainConfig(optimizer=name, lr=0.1, weight_decay=0.5))  # type: ignore[arg-type]
        layer.weight.grad = torch.zeros_like(layer.weight)
        layer.bias.grad = torch.zeros_like(layer.bias)
        optimizer.step()
        if expected is None:  # L2 in the gradient: a normalised step of about lr in every weight
            assert torch.allclose((before - layer.weight).abs(), torch.full_like(before, 0.1), rtol=1e-3)
        else:
            assert torch.allclose(layer.weight, before * expected)


def _lrs(config: TrainConfig) -> list[float]:
    optimizer = make_optimizer(nn.Linear(3, 2), config)
    scheduler = make_scheduler(optimizer, config)
    lrs = []
    for _ in range(config.epochs):
        lrs.append(base_optimizer(optimizer).param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_without_warmup_the_schedule_is_the_plain_cosine() -> None:
    config = TrainConfig(lr=0.01, epochs=6)
    layer = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.01)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=6)
    expected = []
    for _ in range(6):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        cosine.step()
    assert _lrs(config) == expected


def test_warmup_rises_linearly_then_follows_a_cosine_to_zero() -> None:
    lrs = _lrs(TrainConfig(lr=0.01, epochs=6, warmup_epochs=2))
    cosine = [0.01 * 0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(4)]
    assert lrs == pytest.approx([0.01 / 3, 0.02 / 3, *cosine])
    assert lrs[2] == pytest.approx(0.01)  # the full lr right after the warm-up


def test_lr_factor_matches_the_plain_cosine_without_warmup() -> None:
    assert [lr_factor(e, 4, 0) for e in range(4)] == pytest.approx([1.0, 0.8535534, 0.5, 0.1464466])
