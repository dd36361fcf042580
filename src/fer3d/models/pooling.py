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

import torch
import torch.nn.functional as F
from torch import nn

Triple = tuple[int, int, int]


class _WindowMean(torch.autograd.Function):
    """Mean over non-overlapping ``kernel`` windows of a channels-last-3d ``[N, C, T, H, W]`` tensor.

    Like ``avg_pool3d`` with stride = kernel and no padding: trailing rows that do not fill a window
    are dropped (and get zero gradient).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: Triple) -> torch.Tensor:  # type: ignore[override]
        n, c, t, h, w = x.shape
        kt, kh, kw = kernel
        out_t, out_h, out_w = t // kt, h // kh, w // kw
        windows = x.permute(0, 2, 3, 4, 1)[:, : out_t * kt, : out_h * kh, : out_w * kw].reshape(
            n, out_t, kt, out_h, kh, out_w, kw, c
        )
        total = windows[:, :, 0, :, 0, :, 0].clone(memory_format=torch.contiguous_format)
        for a in range(kt):
            for b in range(kh):
                for d in range(kw):
                    if a or b or d:
                        total.add_(windows[:, :, a, :, b, :, d])
        total.mul_(1.0 / (kt * kh * kw))
        ctx.input_shape, ctx.kernel = x.shape, kernel
        return total.permute(0, 4, 1, 2, 3)  # NCDHW view of NDHWC memory: channels-last-3d

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        n, c, t, h, w = ctx.input_shape
        kt, kh, kw = ctx.kernel
        out_t, out_h, out_w = grad.shape[2:]
        share = (grad * (1.0 / (kt * kh * kw))).permute(0, 2, 3, 4, 1)
        # written window offset by window offset into strided views, each a vectorised copy over channels
        spread = share.new_empty(n, t, h, w, c)
        if (out_t * kt, out_h * kh, out_w * kw) != (t, h, w):  # rows dropped by the floor: no gradient
            spread.zero_()
        windows = spread[:, : out_t * kt, : out_h * kh, : out_w * kw].view(
            n, out_t, kt, out_h, kh, out_w, kw, c
        )
        for a in range(kt):
            for b in range(kh):
                for d in range(kw):
                    windows[:, :, a, :, b, :, d] = share
        return spread.permute(0, 4, 1, 2, 3), None


class ChannelsLastAvgPool3d(nn.AvgPool3d):
    """``nn.AvgPool3d`` whose unpadded, non-overlapping case takes the vectorised channels-last path.

    Other inputs (padding, overlapping windows, contiguous layout, CUDA, tracing for export) use the
    stock operator, so results agree with ``nn.AvgPool3d`` to float rounding everywhere.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = _triple(self.kernel_size)
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
            and not torch.compiler.is_compiling()
        ):
            if kernel == (1, 1, 1):
                return x
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


def _triple(value: int | tuple[int, ...]) -> Triple:
    if isinstance(value, int):
        return (value, value, value)
    a, b, c = value
    return (a, b, c)
