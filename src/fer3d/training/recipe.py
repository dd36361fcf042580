"""The per-device training recipe, chosen automatically so users never tune it by hand."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from fer3d.config import ExperimentConfig


@dataclass(frozen=True)
class Recipe:
    device: torch.device
    autocast_dtype: torch.dtype | None  # None = fp32
    channels_last: bool

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def choose_recipe(config: ExperimentConfig, device: torch.device | str | None = None) -> Recipe:
    device = torch.device(device) if device is not None else default_device()
    precision = config.train.precision
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if precision == "bf16" and device.type == "cpu" and config.model.temporal_kernel == 9:
        # oneDNN's bf16 Conv3d backward crashes (segfault/hang) with temporal kernel 9 on CPU.
        precision = "fp32"
    dtype = torch.bfloat16 if precision == "bf16" else None
    return Recipe(device=device, autocast_dtype=dtype, channels_last=device.type == "cuda")
