"""Temporal heads over C3D's per-time-step features: shapes, one training step, gradients everywhere."""

from __future__ import annotations

import pytest
import torch

from fer3d.config import TEMPORAL_KERNELS, ExperimentConfig, ModelConfig, to_dict
from fer3d.models.c3d import C3D
from fer3d.models.temporal import AttentionPool, LSTMPool

HEADS = ("lstm", "attention")


@pytest.mark.parametrize("extra_block", [False, True])
@pytest.mark.parametrize("kt", TEMPORAL_KERNELS)
@pytest.mark.parametrize("head", HEADS)
def test_head_trains_one_step_for_every_temporal_kernel(head: str, kt: int, extra_block: bool) -> None:
    torch.manual_seed(0)
    config = ModelConfig(width=0.0625, temporal_kernel=kt, extra_block=extra_block, temporal_head=head)
    model = C3D(config, num_classes=4, in_channels=1, frames=10, size=32)
    assert model.feature_shape[1] == 5  # 10 frames: only pool2 halves time
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    clips, labels = torch.randn(3, 1, 10, 32, 32), torch.tensor([0, 1, 3])
    torch.nn.init.normal_(model.classifier[-1].weight, std=0.1)  # as after a first step (zero-init head)
    logits = model(clips)
    assert logits.shape == (3, 4)
    assert torch.isfinite(logits).all()
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not silent, f"no gradient for {silent}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    before = [p.detach().clone() for p in model.parameters()]
    optimizer.step()
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))
    assert torch.isfinite(model(clips)).all()


@pytest.mark.parametrize("head", HEADS)
def test_head_keeps_time_steps_and_uses_its_pool(head: str) -> None:
    model = C3D(ModelConfig(width=0.125, temporal_head=head), 7, frames=10, size=32)
    plain = C3D(ModelConfig(width=0.125), 7, frames=10, size=32)
    assert plain.feature_shape[1] == 1 and model.feature_shape[1] == 5
    pool = {"lstm": LSTMPool, "attention": AttentionPool}[head]
    assert sum(isinstance(m, pool) for m in model.modules()) == 1
    assert model(torch.randn(2, 1, 10, 32, 32)).shape == (2, 7)


@pytest.mark.parametrize("head", HEADS)
def test_head_starts_uniform_like_c3d(head: str) -> None:
    torch.manual_seed(0)
    model = C3D(ModelConfig(width=0.0625, temporal_head=head), 5, frames=10, size=32)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(2, 1, 10, 32, 32)), torch.tensor([0, 4]))
    assert torch.allclose(loss, torch.log(torch.tensor(5.0)))


@pytest.mark.parametrize("frames", [1, 4, 16])
def test_head_takes_any_clip_length(frames: int) -> None:
    model = C3D(ModelConfig(width=0.0625, temporal_head="lstm"), 3, frames=frames, size=24)
    assert model(torch.randn(2, 1, frames, 24, 24)).shape == (2, 3)


def test_attention_weights_follow_the_steps() -> None:
    """A step that differs gets another weight: the pool is not a plain mean."""
    torch.manual_seed(0)
    pool = AttentionPool(features=6, hidden=4)
    steps = torch.zeros(1, 3, 6)
    steps[0, 1] = 1.0
    assert not torch.allclose(pool(steps), steps.mean(dim=1))


def test_default_head_keeps_old_fingerprints() -> None:
    config = ExperimentConfig()
    assert "temporal_head" not in to_dict(config, omit_added_defaults=True)["model"]
    lstm = config.with_overrides({"model.temporal_head": "lstm"})
    assert lstm.fingerprint() != config.fingerprint()
    assert config.with_overrides({"model.temporal_head": "none"}).fingerprint() == config.fingerprint()
