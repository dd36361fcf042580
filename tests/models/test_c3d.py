import itertools

import pytest
import torch

from fer3d.config import ModelConfig
from fer3d.models.c3d import ACTIVATIONS, C3D

TABLE1 = {
    "activation": list(ACTIVATIONS),
    "temporal_kernel": [1, 3, 5, 7, 9],
    "init": ["xavier_uniform", "xavier_normal"],
    "pooling": ["avg", "max"],
    "extra_block": [False, True],
    "dropout": [0.0, 0.2511, 1.0],
}


def _one_at_a_time():
    """Every value of every Table 1 choice, the others at their defaults."""
    for key, values in TABLE1.items():
        for value in values:
            yield pytest.param({key: value}, id=f"{key}={value}")


@pytest.mark.parametrize("choice", list(_one_at_a_time()))
def test_forward_backward_every_choice(choice):
    torch.manual_seed(0)
    model = C3D(ModelConfig(width=0.0625, **choice), num_classes=5, in_channels=1, frames=10, size=32)
    torch.nn.init.normal_(model.classifier[-1].weight, std=0.1)  # as after a first step (zero-init head)
    clips = torch.randn(3, 1, 10, 32, 32)
    logits = model(clips)
    assert logits.shape == (3, 5)
    assert torch.isfinite(logits).all()
    logits.logsumexp(1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no finite gradient for {missing}"
    if (
        choice.get("dropout") != 1.0
    ):  # dropout 1 zeroes the FC path, so fc weights legitimately get zero grads
        zero = [n for n, p in model.named_parameters() if p.grad.abs().sum() == 0]
        assert not zero, f"zero gradient for {zero}"


def test_fresh_model_predicts_uniformly_and_trains_its_head_first():
    torch.manual_seed(0)
    model = C3D(ModelConfig(width=0.0625), num_classes=7, in_channels=1, frames=10, size=32)
    logits = model(torch.randn(4, 1, 10, 32, 32))
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3]))
    assert torch.allclose(loss, torch.log(torch.tensor(7.0)))
    loss.backward()
    assert model.classifier[-1].weight.grad.abs().sum() > 0
    assert model.classifier[-4].weight.grad.abs().sum() == 0  # fc7 waits for a non-zero head


@pytest.mark.parametrize(
    "size,frames,channels", [(16, 1, 1), (48, 10, 3), (112, 10, 1), (40, 16, 1), (33, 7, 1)]
)
def test_any_input_size_and_length(size, frames, channels):
    model = C3D(ModelConfig(width=0.0625), num_classes=7, in_channels=channels, frames=frames, size=size)
    assert model(torch.randn(2, channels, frames, size, size)).shape == (2, 7)


def test_c3d_widths_at_full_scale():
    model = C3D(ModelConfig(width=1.0), num_classes=7, frames=10, size=112)
    convs = [m.out_channels for m in model.features if isinstance(m, torch.nn.Conv3d)]
    assert convs == [64, 128, 256, 256, 512, 512, 512, 512]
    assert all(
        isinstance(m, torch.nn.BatchNorm3d)
        for m in model.features
        if m.__class__.__name__.startswith("Batch")
    )
    assert sum(isinstance(m, torch.nn.BatchNorm3d) for m in model.features) == len(convs)
    linears = [m.out_features for m in model.classifier if isinstance(m, torch.nn.Linear)]
    assert linears == [4096, 4096, 7]
    # 10 frames: 10 -> 10 -> 5 -> 2 -> 1 -> 1; 112 px: 56, 28, 14, 7, then pool5 pads to 4
    assert model.feature_shape == (512, 1, 4, 4)


def test_extra_block_adds_one_conv():
    base = C3D(ModelConfig(width=0.125), 7, frames=10, size=32)
    extra = C3D(ModelConfig(width=0.125, extra_block=True), 7, frames=10, size=32)
    count = lambda m: sum(isinstance(x, torch.nn.Conv3d) for x in m.modules())  # noqa: E731
    assert count(extra) == count(base) + 1


def test_width_scales_fc_layers():
    model = C3D(ModelConfig(width=0.25), 7, frames=10, size=48)
    assert [m.out_features for m in model.classifier if isinstance(m, torch.nn.Linear)] == [1024, 1024, 7]


@pytest.mark.parametrize("pooling,kt", list(itertools.product(["avg", "max"], [3, 9])))
def test_temporal_kernel_is_used(pooling, kt):
    model = C3D(ModelConfig(width=0.0625, temporal_kernel=kt, pooling=pooling), 3, frames=10, size=32)
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv3d))
    assert first.kernel_size == (kt, 3, 3) and first.padding == (kt // 2, 1, 1)
    stock = {"avg": torch.nn.AvgPool3d, "max": torch.nn.MaxPool3d}[pooling]
    assert any(isinstance(m, stock) for m in model.features)


def test_init_is_xavier():
    torch.manual_seed(0)
    model = C3D(ModelConfig(width=1.0, init="xavier_uniform"), 7, frames=10, size=32)
    w = model.classifier[1].weight
    bound = (6 / (w.shape[0] + w.shape[1])) ** 0.5
    assert w.abs().max() <= bound + 1e-6 and w.abs().max() > 0.9 * bound
