"""A Conv3d that keeps CPU bf16 autocast off the clip lengths oneDNN's backward gets wrong.

In the pinned PyTorch, oneDNN's CPU bf16 Conv3d backward is wrong when a clip has more than one but
fewer frames than the temporal kernel (``1 < T < kt``, the temporal padding making up the rest): the
weight gradient holds uninitialised memory, and for some kernels the process aborts (reproduced by
``tests/models/test_conv.py``). C3D with 10 frames meets T=2 at conv4 and T=5 at conv3. The same zero
padding made explicit (``F.pad``, then a conv without temporal padding) never shows oneDNN a clip shorter
than its kernel, and its bf16 gradients match fp32. Outside CPU autocast the layer is a plain Conv3d.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def bf16_conv_unsafe(temporal_kernel: int, frames: int) -> bool:
    """Whether oneDNN's CPU bf16 Conv3d backward is wrong or crashes for this kernel and clip length."""
    return 1 < frames < temporal_kernel


class TimePaddedConv3d(nn.Conv3d):
    """``nn.Conv3d`` (same parameters and state dict) whose temporal zero padding is explicit where CPU
    autocast would otherwise run oneDNN's faulty bf16 kernel; where explicit zeros cannot lengthen the
    clip to the kernel, that call runs in fp32."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kt, frames = self.kernel_size[0], x.shape[2]
        cpu_autocast = x.device.type == "cpu" and torch.is_autocast_enabled("cpu")
        if not (cpu_autocast and bf16_conv_unsafe(kt, frames)):
            return super().forward(x)
        pad_t = self.padding[0] if not isinstance(self.padding, str) else 0
        if self.padding_mode == "zeros" and not bf16_conv_unsafe(kt, frames + 2 * pad_t):
            padded = F.pad(x, (0, 0, 0, 0, pad_t, pad_t))
            padding = (0, *self.padding[1:])  # temporal padding done above
            return F.conv3d(padded, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)
        with torch.autocast("cpu", enabled=False):
            return super().forward(x.float())
