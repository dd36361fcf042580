"""A Conv3d with one input channel (C3D's first layer on grey clips) as one matmul over its taps.

oneDNN has no good bf16 kernel for a single input channel: C3D's conv1 ran at 41-57 GFLOP/s on the
AMX machine while the other layers ran at 500-900, so at 112 px this 0.6% of the step's FLOPs took 7%
of its convolution time (245 ms of 3.3 s; ``benchmarks/results/conv_ceiling.json``). With one input
channel, a kt x 3 x 3 kernel has only kt x 9 taps: copying each tap's shifted window of the padded clip
into one row of a ``[taps, N*T*H*W]`` buffer (27 contiguous copies) turns the convolution into a
``[N*T*H*W, taps] x [taps, C_out]`` matmul, and its weight gradient into ``[taps, N*T*H*W] x
[N*T*H*W, C_out]``. Measured on 2 AMX cores in bf16 (``benchmarks/bench_first_conv.py``), forward +
weight gradient alone: 120 against 334 ms at 112 px (64 channels), 7.9 against 11.6 ms at 40 px (16
channels, two threads), 20 against 24 ms at 48 px (one thread); the whole eager 112 px step 1.04-1.06x.
In fp32 oneDNN's own kernel is the faster (163 against 240 ms at 112 px), so the recipe takes this path
only under CPU bf16 autocast (``training.recipe``). The copies are one custom operator
(``fer3d::clip_taps``): traced by inductor they made a compiled CPU-default step 3x slower (315 against
105 ms), while as an opaque operator the compiled step gets 1.056x faster with it (82 against 88 ms,
one thread, 20 paired rounds, ``bench_first_conv --compiled-only``). The product of the taps and the
weights is the convolution itself, so outputs and gradients agree with ``F.conv3d`` to rounding (tested).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn


def takes_taps_path(conv: nn.Conv3d, x: torch.Tensor) -> bool:
    """Whether ``conv(x)`` is a plain stride-1, same-padded, single-channel conv of a clip that needs no
    input gradient (a network's first layer): the only case :func:`single_channel_conv3d` computes."""
    kernel = conv.kernel_size
    return (
        conv.in_channels == 1
        and conv.groups == 1
        and x.dim() == 5
        and not x.requires_grad
        and conv.padding_mode == "zeros"
        and tuple(conv.stride) == (1, 1, 1)
        and tuple(conv.dilation) == (1, 1, 1)
        and not isinstance(conv.padding, str)
        and all(k % 2 == 1 for k in kernel)
        and tuple(conv.padding) == tuple(k // 2 for k in kernel)
    )


def single_channel_conv3d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.conv3d(x, weight, bias, padding=k // 2)`` for ``x [N, 1, T, H, W]``, computed as a matmul over
    the kernel's taps, in the autocast dtype when CPU autocast is on; returns channels-last-3d memory."""
    n, _, t, h, w = x.shape
    kt, kh, kw = weight.shape[2:]
    dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
    taps = clip_taps(x[:, 0].to(dtype), kt, kh, kw).t()
    kernels = weight.reshape(weight.shape[0], -1).t()
    out = taps @ kernels if bias is None else torch.addmm(bias, taps, kernels)
    return out.view(n, t, h, w, -1).permute(0, 4, 1, 2, 3)  # NCDHW view of NDHWC memory


# A custom operator, so that torch.compile calls these copies as one opaque kernel, as it calls a matmul:
# traced by inductor they made a compiled CPU-default step 3x slower. The clip needs no gradient (a first
# layer), so the operator needs no backward; the matmuls around it keep autograd's.
@torch.library.custom_op("fer3d::clip_taps", mutates_args=())
def clip_taps(clips: torch.Tensor, kt: int, kh: int, kw: int) -> torch.Tensor:
    """``[kt*kh*kw, N*T*H*W]``: row i holds ``clips [N, T, H, W]`` zero-padded by half the kernel and
    shifted by tap i (taps in ``(t, h, w)`` order, as a flattened Conv3d kernel)."""
    n, t, h, w = clips.shape
    padded = F.pad(clips, (kw // 2, kw // 2, kh // 2, kh // 2, kt // 2, kt // 2))
    # row i: the clip shifted by tap i; contiguous copies, unlike a strided im2col gather (10x slower here)
    taps = padded.new_empty((kt * kh * kw, n, t, h, w))
    for i, (a, b, c) in enumerate(itertools.product(range(kt), range(kh), range(kw))):
        taps[i].copy_(padded[:, a : a + t, b : b + h, c : c + w])
    return taps.view(kt * kh * kw, n * t * h * w)


@clip_taps.register_fake
def _(clips: torch.Tensor, kt: int, kh: int, kw: int) -> torch.Tensor:
    return clips.new_empty((kt * kh * kw, clips.numel()))
