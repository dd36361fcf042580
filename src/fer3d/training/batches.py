"""An epoch's batches: planned on the CPU at the epoch's start, prepared on the training device in few steps.

The plan draws every batch's augmentation parameters in the order a batch-by-batch loop would (so the
same seed gives the same batches) and moves the epoch's clip indices and parameters to the device in
one copy each: on a GPU, a copy from pageable host memory waits for the queued work, so a copy per step
made every step wait for the one before. Batches are then prepared in chunks: on a GPU several at once
(one conversion, augmentation and normalisation for the chunk instead of a dozen small kernel launches
per batch), on the CPU one at a time, where a batch stays in cache and launches cost nothing.
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
    params: torch.Tensor  # [n, k] their augmentation parameters (``augment.draw_params``), on the device
    bounds: list[tuple[int, int]]  # each batch's [start, stop) in ``index``

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
    """Split ``order`` (clip indices) into batches and draw each batch's augmentation parameters."""
    bounds, params = [], []
    for start in range(0, len(order), batch_size):
        stop = min(start + batch_size, len(order))
        if stop - start < 2:  # batch norm needs two samples; a lone last clip reappears next epoch
            continue
        bounds.append((start, stop))
        params.append(draw_params(stop - start, config, generator, strength))
    # only the last batch can be short, so the kept batches are a prefix of the order, row for row with
    # the drawn parameters
    kept = bounds[-1][1] if bounds else 0
    drawn = torch.cat(params) if params else torch.empty(0, 0)
    return EpochPlan(order[:kept].to(device), drawn.to(device), bounds)


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
    augmented = apply_params(to_float(clips[plan.index[rows]]), plan.params[rows], config)
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
