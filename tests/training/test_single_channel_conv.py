"""The one-input-channel Conv3d as a matmul over its taps: the same convolution, only where it applies."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fer3d.config import TEMPORAL_KERNELS
from fer3d.training.recipe import guard_bf16_convs
from fer3d.training.single_channel_conv import clip_taps, single_channel_conv3d, takes_taps_path


def _conv(kt: int, bias: bool = False, **kwargs) -> torch.nn.Conv3d:
    torch.manual_seed(kt)
    options = {"padding": (kt // 2, 1, 1), **kwargs}
    return torch.nn.Conv3d(1, 8, (kt, 3, 3), bias=bias, **options)


@pytest.mark.parametrize("kt", TEMPORAL_KERNELS)
@pytest.mark.parametrize("bias", [False, True])
def test_taps_matmul_is_the_convolution_in_fp32(kt: int, bias: bool) -> None:
    conv = _conv(kt, bias)
    x = torch.rand(2, 1, 10, 9, 7)  # odd, unequal sides: a mixed-up axis would show
    upstream = torch.randn(2, 8, 10, 9, 7)
    results = []
    for forward in (conv, lambda clip: single_channel_conv3d(clip, conv.weight, conv.bias)):
        conv.zero_grad()
        y = forward(x)
        (y * upstream).sum().backward()
        results.append((y, conv.weight.grad.clone(), None if conv.bias is None else conv.bias.grad.clone()))
    (want, want_w, want_b), (got, got_w, got_b) = results
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got_w, want_w, rtol=1e-4, atol=1e-4)
    if bias:
        torch.testing.assert_close(got_b, want_b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kt", TEMPORAL_KERNELS)
def test_guarded_first_conv_under_bf16_matches_fp32_and_stays_channels_last(kt: int) -> None:
    conv = _conv(kt)
    x = torch.rand(3, 1, 10, 12, 12).contiguous(memory_format=torch.channels_last_3d)
    upstream = torch.randn(3, 8, 10, 12, 12)
    want = conv(x)
    (want * upstream).sum().backward()
    want_w = conv.weight.grad.clone()
    conv.zero_grad()
    with guard_bf16_convs(conv), torch.autocast("cpu", dtype=torch.bfloat16):
        got = conv(x)
    (got.float() * upstream).sum().backward()
    assert got.dtype == torch.bfloat16 and got.shape == want.shape
    assert got.is_contiguous(memory_format=torch.channels_last_3d)
    # bf16 rounding of inputs and weights: about 0.4% of the largest value
    assert ((got.float() - want).abs().max() / want.abs().max()).item() < 0.02
    assert ((conv.weight.grad - want_w).abs().max() / want_w.abs().max()).item() < 0.02


def test_the_guard_takes_the_taps_path_for_a_one_channel_conv_with_a_temporal_kernel_of_one() -> None:
    conv = _conv(1)
    calls = []
    conv.register_forward_hook(lambda module, args, out: calls.append(type(module).__name__))
    with torch.no_grad(), guard_bf16_convs(conv), torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(torch.rand(1, 1, 4, 6, 6))
    assert calls == ["GuardedConv3d"] and out.dtype == torch.bfloat16
    assert type(conv) is torch.nn.Conv3d


def test_only_plain_same_padded_first_layers_take_the_taps_path() -> None:
    clip = torch.rand(1, 1, 4, 6, 6)
    assert takes_taps_path(_conv(3), clip)
    assert not takes_taps_path(_conv(3), clip.clone().requires_grad_())  # needs an input gradient
    assert not takes_taps_path(torch.nn.Conv3d(2, 8, 3, padding=1), torch.rand(1, 2, 4, 6, 6))
    assert not takes_taps_path(_conv(3, stride=2), clip)
    assert not takes_taps_path(_conv(3, dilation=2, padding=2), clip)
    assert not takes_taps_path(_conv(3, padding=0), clip)
    assert not takes_taps_path(_conv(3, padding_mode="replicate"), clip)
    assert not takes_taps_path(torch.nn.Conv3d(1, 8, (2, 3, 3), padding=(1, 1, 1)), clip)  # even kernel


def test_other_layers_keep_the_stock_convolution_under_the_guard() -> None:
    conv = _conv(3)
    clip = torch.rand(1, 1, 6, 6, 6).requires_grad_()
    with guard_bf16_convs(conv), torch.autocast("cpu", dtype=torch.bfloat16):
        got = conv(clip)
    got.float().sum().backward()
    assert clip.grad is not None and clip.grad.shape == clip.shape  # the stock path gives input gradients
    want = F.conv3d(clip, conv.weight, padding=(1, 1, 1))
    torch.testing.assert_close(got.float(), want, rtol=0.02, atol=0.02)


def test_the_taps_operator_passes_torch_library_checks() -> None:
    clips = torch.rand(2, 5, 6, 7).to(torch.bfloat16)
    torch.library.opcheck(clip_taps, (clips, 3, 3, 3))
    assert clip_taps(clips, 3, 3, 3).shape == (27, 2 * 5 * 6 * 7)


def test_a_compiled_guarded_first_conv_calls_the_taps_operator() -> None:
    conv = _conv(3)
    graphs = []

    def recording_backend(graph: torch.fx.GraphModule, example_inputs):
        graphs.append(graph)
        return graph.forward

    with torch.no_grad(), guard_bf16_convs(conv), torch.autocast("cpu", dtype=torch.bfloat16):
        torch.compile(conv, backend=recording_backend, dynamic=False)(torch.rand(2, 1, 10, 12, 12))
    # the copies stay one opaque call: traced by inductor they made a compiled step 3x slower
    assert any("clip_taps" in str(node.target) for graph in graphs for node in graph.graph.nodes)


def test_a_compiled_guarded_first_conv_trains_as_the_eager_one() -> None:
    x = torch.rand(2, 1, 10, 12, 12).contiguous(memory_format=torch.channels_last_3d)
    upstream = torch.randn(2, 8, 10, 12, 12)
    results = []
    for compiled in (False, True):
        conv = _conv(3, bias=True)
        # aot_eager: autograd traced through the operator as in a compiled training step, without inductor
        forward = torch.compile(conv, backend="aot_eager", dynamic=False) if compiled else conv
        with guard_bf16_convs(conv), torch.autocast("cpu", dtype=torch.bfloat16):
            out = forward(x)
        (out.float() * upstream).sum().backward()
        results.append((out, conv.weight.grad, conv.bias.grad))
    for eager, compiled in zip(*results, strict=True):
        torch.testing.assert_close(compiled, eager)
