"""Average pooling that stays channels-last and vectorised on CPU.

In the pinned PyTorch, CPU ``avg_pool3d`` runs a scalar loop and returns a contiguous (NCDHW) tensor
even for a channels-last-3d input, so every later layer of C3D pays layout conversions as well.
Measured on one core at the CPU profile (48 px, width 0.25, batch 16): training with average pooling ran
at 50 clips/s against 75 with max pooling; pooling conv1's output took 26 ms forward and 15 ms
backward against 3.3 and 12.6 ms here. C3D's windows never overlap (stride = kernel), so the mean of a
window is a sum of strided views of the channels-last (NDHWC) memory, each a vectorised add over
channels, and its gradient is the window's share broadcast back.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _triple

Triple = tuple[int, int, int]


def _windows(ndhwc: torch.Tensor, kernel: Triple, out: Triple) -> torch.Tensor:
    """``[N, T, H, W, C]`` viewed as ``[N, T', kt, H', kh, W', kw, C]``: window index, offset within it.

    Trailing rows that do not fill a window are left out, as ``avg_pool3d`` floors them away. A view,
    never a copy: backward writes through it.
    """
    (kt, kh, kw), (out_t, out_h, out_w) = kernel, out
    n, c = ndhwc.shape[0], ndhwc.shape[-1]
    return ndhwc[:, : out_t * kt, : out_h * kh, : out_w * kw].view(n, out_t, kt, out_h, kh, out_w, kw, c)


def _offsets(kernel: Triple) -> list[tuple[slice | int, ...]]:
    """Index of each offset within a window, for a ``_windows`` view: one strided view per offset."""
    every = slice(None)
    return [
        (every, every, a, every, b, every, d) for a, b, d in itertools.product(*(range(k) for k in kernel))
    ]


class _WindowMean(torch.autograd.Function):
    """Mean over non-overlapping ``kernel`` windows of a channels-last-3d ``[N, C, T, H, W]`` tensor.

    Like ``avg_pool3d`` with stride = kernel and no padding: trailing rows that do not fill a window
    are dropped (and get zero gradient).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: Triple) -> torch.Tensor:  # type: ignore[override]
        t, h, w = x.shape[2:]
        out = (t // kernel[0], h // kernel[1], w // kernel[2])
        windows = _windows(x.permute(0, 2, 3, 4, 1), kernel, out)
        first, *rest = _offsets(kernel)
        total = windows[first].clone(memory_format=torch.contiguous_format)
        for offset in rest:
            total.add_(windows[offset])
        total.mul_(1.0 / math.prod(kernel))
        ctx.input_shape, ctx.kernel = x.shape, kernel
        return total.permute(0, 4, 1, 2, 3)  # NCDHW view of NDHWC memory: channels-last-3d

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        n, c, t, h, w = ctx.input_shape
        kernel, out = ctx.kernel, tuple(grad.shape[2:])
        share = (grad * (1.0 / math.prod(kernel))).permute(0, 2, 3, 4, 1)
        # written window offset by window offset into strided views, each a vectorised copy over channels
        spread = share.new_empty(n, t, h, w, c)
        if tuple(o * k for o, k in zip(out, kernel, strict=True)) != (t, h, w):
            spread.zero_()  # rows dropped by the floor get no gradient
        windows = _windows(spread, kernel, out)
        for offset in _offsets(kernel):
            windows[offset] = share
        return spread.permute(0, 4, 1, 2, 3), None


def _window_mean_of_views(x: torch.Tensor, kernel: Triple) -> torch.Tensor:
    """``_WindowMean`` as plain tensor operations, for ``torch.compile``: a mean over the window axes of a
    view. Inductor fuses it into the batch norm and activation before it, keeps the dtype and writes the
    channels-last layout the next convolution reads. Compiled, the stock ``avg_pool3d`` costs twice the
    step (measured at 112 px): autocast runs it in fp32, so the activation is saved in fp32 for its
    backward, and its contiguous output, saved for the next convolution's backward, sends oneDNN down a
    slow mixed-layout path there."""
    t, h, w = x.shape[2:]
    out = (t // kernel[0], h // kernel[1], w // kernel[2])
    # in NDHWC order, as the memory is: the mean then comes out NDHWC too, a channels-last-3d NCDHW view
    windows = _windows(x.permute(0, 2, 3, 4, 1), kernel, out)
    return windows.mean(dim=(2, 4, 6)).permute(0, 4, 1, 2, 3)


class ChannelsLastAvgPool3d(nn.AvgPool3d):
    """``nn.AvgPool3d`` whose unpadded, non-overlapping case takes the vectorised channels-last path.

    Under ``torch.compile`` the same case is a mean over a view (``_window_mean_of_views``). Other inputs
    (padding, overlapping windows, contiguous layout, CUDA, tracing for export) use the stock operator,
    so results agree with ``nn.AvgPool3d`` to float rounding everywhere.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel: Triple = _triple(self.kernel_size)
        if (
            _triple(self.padding) == (0, 0, 0)
            and _triple(self.stride or self.kernel_size) == kernel
            and not self.ceil_mode
            and self.divisor_override is None
            and x.dim() == 5
            and x.device.type == "cpu"  # measured on CPU only; CUDA keeps cuDNN's pooling
            and x.is_contiguous(memory_format=torch.channels_last_3d)
            and not torch.jit.is_tracing()
            and not torch.jit.is_scripting()
        ):
            if kernel == (1, 1, 1):
                return x
            if torch.compiler.is_compiling():
                return _window_mean_of_views(x, kernel)
            return _WindowMean.apply(x, kernel)
        return F.avg_pool3d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )
