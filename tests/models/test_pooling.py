import pytest
import torch
from torch import nn

from fer3d.models.pooling import ChannelsLastAvgPool3d

CASES = [  # (input shape [N, C, T, H, W], kernel): C3D's pools, odd sizes that drop a trailing row
    ((2, 3, 10, 8, 8), (1, 2, 2)),
    ((2, 4, 10, 6, 6), (2, 2, 2)),
    ((2, 4, 5, 7, 5), (2, 2, 2)),  # T 5 -> 2 and odd H, W: the floor drops the last frame, row, column
    ((3, 2, 1, 3, 3), (1, 1, 1)),
]


def _channels_last(shape, dtype=torch.float64):
    torch.manual_seed(0)
    return torch.randn(*shape, dtype=dtype).contiguous(memory_format=torch.channels_last_3d)


@pytest.mark.parametrize(("shape", "kernel"), CASES)
def test_matches_stock_avg_pool_forward_and_backward(shape, kernel):
    x = _channels_last(shape).requires_grad_()
    y = x.detach().clone().requires_grad_()
    ours = ChannelsLastAvgPool3d(kernel, stride=kernel, count_include_pad=False)(x)
    stock = nn.AvgPool3d(kernel, stride=kernel, count_include_pad=False)(y)
    assert ours.shape == stock.shape
    assert ours.is_contiguous(memory_format=torch.channels_last_3d)  # the point: later layers stay fast
    torch.testing.assert_close(ours, stock)
    weights = torch.randn_like(stock)
    (ours * weights).sum().backward()
    (stock * weights).sum().backward()
    torch.testing.assert_close(x.grad, y.grad)
    assert x.grad.is_contiguous(memory_format=torch.channels_last_3d)


@pytest.mark.parametrize(("shape", "kernel"), CASES[:3])
def test_gradient_is_exact(shape, kernel):
    x = _channels_last(shape).requires_grad_()
    pool = ChannelsLastAvgPool3d(kernel, stride=kernel)
    assert torch.autograd.gradcheck(pool, (x,))


def test_padded_and_contiguous_inputs_use_the_stock_operator():
    # C3D's pool5 pads space by 1 and excludes the padding from the mean; a contiguous input (as in
    # ONNX export) also takes the stock path
    padded = ChannelsLastAvgPool3d((1, 2, 2), stride=(1, 2, 2), padding=(0, 1, 1), count_include_pad=False)
    stock = nn.AvgPool3d((1, 2, 2), stride=(1, 2, 2), padding=(0, 1, 1), count_include_pad=False)
    x = _channels_last((2, 3, 1, 3, 3))
    torch.testing.assert_close(padded(x), stock(x))
    plain = torch.randn(2, 3, 4, 6, 6, dtype=torch.float64)
    pool = ChannelsLastAvgPool3d((2, 2, 2), stride=(2, 2, 2))
    torch.testing.assert_close(pool(plain), nn.AvgPool3d((2, 2, 2), stride=(2, 2, 2))(plain))


def test_average_pooled_c3d_stays_channels_last():
    # the stock operator returned contiguous tensors, so every conv after the first pool converted layouts
    from fer3d.config import ModelConfig
    from fer3d.models.c3d import C3D

    model = C3D(ModelConfig(width=0.0625, pooling="avg"), 3, frames=10, size=32)
    model = model.to(memory_format=torch.channels_last_3d)
    layouts = []
    for conv in (m for m in model.modules() if isinstance(m, nn.Conv3d)):
        conv.register_forward_pre_hook(
            lambda _m, args: layouts.append(args[0].is_contiguous(memory_format=torch.channels_last_3d))
        )
    model(torch.rand(2, 1, 10, 32, 32).contiguous(memory_format=torch.channels_last_3d))
    assert len(layouts) == 8 and all(layouts)


@pytest.mark.parametrize(("shape", "kernel"), CASES)
def test_compiled_pooling_matches_stock_and_stays_bf16_and_channels_last(shape, kernel):
    """Compiled, the pooling is a mean over views: under bf16 autocast it must keep the dtype and the
    channels-last layout (the stock operator ran in fp32 and returned a contiguous tensor, which made
    the compiled 112 px step twice as slow), and match the stock operator, gradients included."""
    from fer3d.training.recipe import CPU_INDUCTOR_OPTIONS

    pool = ChannelsLastAvgPool3d(kernel, stride=kernel)
    compiled = torch.compile(pool, fullgraph=True, options=CPU_INDUCTOR_OPTIONS)  # as the library compiles
    x = _channels_last(shape, torch.bfloat16).requires_grad_()
    y = x.detach().float().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = compiled(x)
    assert ours.dtype == torch.bfloat16
    assert ours.is_contiguous(memory_format=torch.channels_last_3d)
    stock = nn.AvgPool3d(kernel, stride=kernel)(y)
    torch.testing.assert_close(ours.float(), stock, atol=1e-2, rtol=1e-2)
    weights = torch.randn_like(stock)
    (ours.float() * weights).sum().backward()
    (stock * weights).sum().backward()
    torch.testing.assert_close(x.grad.float(), y.grad, atol=1e-2, rtol=1e-2)
