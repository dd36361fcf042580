"""The per-device training recipe, chosen automatically so users never tune it by hand.

CPU: bf16 autocast where the CPU has native bf16 dot products (AVX512-BF16 or AMX; emulated bf16 is
slower than fp32), channels-last-3d, a fused Adam step and the glibc allocator fix. One exception:
temporal kernel 9 always trains in fp32, because oneDNN's bf16 Conv3d backward with a temporal kernel of
9 on 5-6 frames segfaults, corrupts the heap or hangs in the PyTorch this project pins.
CUDA: bf16 autocast where supported, cuDNN autotuning, channels-last-3d, fused Adam.
``train.precision`` ("fp32" or "bf16") overrides the precision, except for that CPU exception.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from fer3d.config import ExperimentConfig
from fer3d.training.allocator import tune_allocator

CPU_BF16_UNSAFE_TEMPORAL_KERNELS = frozenset({9})


@dataclass(frozen=True)
class Recipe:
    device: torch.device
    autocast_dtype: torch.dtype | None  # None = fp32
    channels_last: bool
    fused_optimizer: bool = False  # one fused kernel for the whole Adam step
    threads: int | None = None  # intra-op threads for this process; None leaves PyTorch's default

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def apply(self) -> None:
        """Process-wide settings the recipe needs; idempotent, called by ``fit`` before training."""
        if self.threads is not None and torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        if self.device.type == "cpu":
            tune_allocator()
        elif self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes per trial: autotuning pays off

    @property
    def name(self) -> str:
        precision = "bf16" if self.autocast_dtype == torch.bfloat16 else "fp32"
        parts = [self.device.type, precision]
        parts += ["channels_last_3d"] if self.channels_last else []
        parts += ["fused_adam"] if self.fused_optimizer else []
        return "+".join(parts)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_has_native_bf16() -> bool:
    """True when oneDNN runs bf16 convolutions natively (AVX512-BF16 or AMX), not emulated."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def choose_recipe(
    config: ExperimentConfig, device: torch.device | str | None = None, *, threads: int | None = None
) -> Recipe:
    """The recipe for training ``config`` on ``device`` (default: CUDA when available, else CPU)."""
    device = torch.device(device) if device is not None else default_device()
    precision = config.train.precision
    if precision == "auto":
        if device.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        else:
            precision = "bf16" if device.type == "cpu" and cpu_has_native_bf16() else "fp32"
    if device.type == "cpu" and config.model.temporal_kernel in CPU_BF16_UNSAFE_TEMPORAL_KERNELS:
        precision = "fp32"  # never take the crashing oneDNN path, whatever was asked
    dtype = torch.bfloat16 if precision == "bf16" else None
    fused = device.type in ("cpu", "cuda")
    return Recipe(device=device, autocast_dtype=dtype, channels_last=True, fused_optimizer=fused, threads=threads)


def plain_recipe(device: torch.device | str = "cpu") -> Recipe:
    """Eager fp32, contiguous layout, unfused Adam: the baseline the benchmarks compare against."""
    return Recipe(device=torch.device(device), autocast_dtype=None, channels_last=False, fused_optimizer=False)
