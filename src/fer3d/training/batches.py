"""An epoch's batches: planned on the CPU at the epoch's start, prepared on the training device in few steps.

The plan draws the augmentation of every clip of the epoch in one call, which gives what a draw per
batch would (so the same seed gives the same batches), and moves the epoch's clip indices and draws to
the device in one copy each, from pinned memory without waiting: on a GPU a copy from pageable host
memory waits for all queued work, so the device would idle while the host drew and launched the next
epoch. Batches are then prepared in chunks: on a GPU several at once (one conversion, augmentation and
normalisation for the chunk instead of a dozen small kernel launches per batch), on the CPU one at a
time, where a batch stays in cache and launches cost nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from fer3d.config import AugmentConfig
from fer3d.training.augment import apply_params, draw_params
from fer3d.training.inputs import model_input, to_float


@dataclass(frozen=True)
class EpochPlan:
    index: torch.Tensor  # [n] the clips of the kept batches, in order, on the device
    params: torch.Tensor  # [n, k] their augmentation draws (``augment.draw_params``), on the device
    bounds: list[tuple[int, int]]  # each batch's [start, stop) in ``index``
    strength: float  # the augmentation's strength this epoch (``AugmentConfig.strength``)

    def chunks(self, batches_per_chunk: int) -> Iterator[list[tuple[int, int]]]:
        for first in range(0, len(self.bounds), batches_per_chunk):
            yield self.bounds[first : first + batches_per_chunk]


def plan_epoch(
    order: torch.Tensor,
    batch_size: int,
    config: AugmentConfig,
    generator: torch.Generator,
    strength: float,
    device: torch.device,
) -> EpochPlan:
    """Split ``order`` (clip indices) into batches and draw the augmentation of every clip in them."""
    bounds = [
        (start, min(start + batch_size, len(order)))
        for start in range(0, len(order), batch_size)
        # batch norm needs two samples; a lone last clip reappears next epoch
        if min(start + batch_size, len(order)) - start >= 2
    ]
    # only the last batch can be short, so the kept batches are a prefix of the order; one draw for
    # all of them gives what a draw per batch would (``draw_params``)
    kept = bounds[-1][1] if bounds else 0
    drawn = draw_params(kept, config, generator, strength)
    return EpochPlan(to_device(order[:kept], device), to_device(drawn, device), bounds, strength)


def to_device(host: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``host`` on ``device``; to a GPU from pinned memory and without blocking the host (the caching host
    allocator keeps the pinned block until the copy is done), so the host queues on while the device
    works instead of waiting for its queue to drain."""
    if device.type != "cuda":
        return host.to(device)
    return host.pin_memory().to(device, non_blocking=True)


def prepare_chunk(
    plan: EpochPlan,
    chunk: list[tuple[int, int]],
    clips: torch.Tensor,
    config: AugmentConfig,
    *,
    normalized: bool,
    channels_last: bool,
) -> list[torch.Tensor]:
    """The model inputs of the batches in ``chunk``, from uint8 ``clips`` on the device: converted,
    augmented and normalised together, then cut into the batches (views, no copies)."""
    start, stop = chunk[0][0], chunk[-1][1]
    rows = slice(start, stop)
    augmented = apply_params(to_float(clips[plan.index[rows]]), plan.params[rows], config, plan.strength)
    inputs = model_input(augmented, normalized, channels_last)
    return [inputs[first - start : last - start] for first, last in chunk]


def batches_per_chunk(chunk_bytes: int | None, batch_size: int, clip_shape: tuple[int, ...]) -> int:
    """How many batches to prepare at once: one without a budget (the CPU), else as many float batches as
    fit in ``chunk_bytes``."""
    if chunk_bytes is None:
        return 1
    batch_bytes = batch_size * 4 * int(torch.Size(clip_shape).numel())
    return max(1, chunk_bytes // max(1, batch_bytes))


class DataClock:
    """Time spent preparing batches. On the CPU the wall time of the preparation; on a GPU the time
    between CUDA events recorded around it on the stream, read once at the end: that is the device's time
    on the data (or waiting for its launches) without a synchronisation per step, which would stop the
    host from queueing the next step while the device works."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        self.host_seconds = 0.0
        self._events: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []
        self._started = 0.0

    def start(self) -> None:
        if self.cuda:
            self._events.append((torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)))
            # on the training device's stream: with no stream, the event would go to the current device's
            self._events[-1][0].record(torch.cuda.current_stream(self.device))
        self._started = time.perf_counter()

    def stop(self) -> None:
        self.host_seconds += time.perf_counter() - self._started
        if self.cuda:
            self._events[-1][1].record(torch.cuda.current_stream(self.device))

    def seconds(self) -> float:
        if not self.cuda:
            return self.host_seconds
        torch.cuda.synchronize(self.device)
        return sum(begin.elapsed_time(end) for begin, end in self._events) / 1000.0
