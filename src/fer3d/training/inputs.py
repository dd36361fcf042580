"""From cached uint8 clips to model input: done once per process, then per batch on the device."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from fer3d.config import InputConfig
from fer3d.data.cache import ClipStore

_MEMORY: dict[tuple, torch.Tensor] = {}


def load_clips(store: ClipStore, config: InputConfig) -> torch.Tensor:
    """All clips as uint8 ``[N, C, T, S, S]`` (channel-first, resized, last ``frames`` frames).

    Memoised per process so the folds and trials of a search read and resize the cache only once.
    """
    key = (str(store.path), store.fingerprint, config.clahe, config.size, config.frames)
    if key not in _MEMORY:
        _MEMORY.clear()  # keep one variant in memory at a time: a full CK+ cache is ~40 MB per variant
        clips = store.clips(config.clahe)
        if config.frames > clips.shape[1]:
            raise ValueError(
                f"input.frames={config.frames} but the cache holds {clips.shape[1]} frames per clip"
            )
        tensor = torch.from_numpy(np.array(clips[:, -config.frames :]))  # a writable in-memory copy
        tensor = tensor.unsqueeze(2) if tensor.ndim == 4 else tensor.permute(0, 1, 4, 2, 3)  # [N, T, C, H, W]
        tensor = tensor.permute(0, 2, 1, 3, 4).contiguous()  # [N, C, T, H, W]
        if tensor.shape[-1] != config.size:
            tensor = resize_clips(tensor, config.size)
        _MEMORY[key] = tensor
    return _MEMORY[key]


def resize_clips(clips: torch.Tensor, size: int) -> torch.Tensor:
    """Area-resize uint8 ``[N, C, T, H, W]`` clips to ``size`` x ``size`` (in chunks to bound memory)."""
    n, c, t, h, w = clips.shape
    out = torch.empty((n, c, t, size, size), dtype=torch.uint8)
    for start in range(0, n, 256):
        chunk = clips[start : start + 256].float().reshape(-1, c * t, h, w)
        resized = F.interpolate(chunk, size=(size, size), mode="area" if size < h else "bilinear")
        out[start : start + 256] = resized.round().clamp(0, 255).to(torch.uint8).reshape(-1, c, t, size, size)
    return out


def to_float(batch: torch.Tensor) -> torch.Tensor:
    """uint8 -> float in [0, 1]."""
    return batch.float().div_(255.0)


def normalize(clips: torch.Tensor, enabled: bool) -> torch.Tensor:
    """Per-clip standardisation (zero mean, unit variance) when ``enabled``."""
    if not enabled:
        return clips
    mean = clips.mean(dim=(1, 2, 3, 4), keepdim=True)
    std = clips.std(dim=(1, 2, 3, 4), keepdim=True).clamp_min(1e-3)
    return (clips - mean) / std


def model_input(clips: torch.Tensor, normalized: bool, channels_last: bool) -> torch.Tensor:
    """Float ``clips`` as the model takes them: per-clip standardised when ``normalized``, in
    channels-last-3d memory when the recipe says ``channels_last``."""
    clips = normalize(clips, normalized)
    return clips.contiguous(memory_format=torch.channels_last_3d) if channels_last else clips
