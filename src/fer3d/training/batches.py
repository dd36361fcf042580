"""Training batches: planned on the CPU, a group of epochs at a time, prepared on the training device in few
steps.

A plan draws each epoch's order and the augmentation of every clip in it, epoch after epoch, from the
run's generator: the same draws in the same order as planning epoch by epoch, so the same seed gives
the same batches however many epochs a plan holds. Its clip indices, draws and strengths go to the
device in one copy each, from pinned memory without waiting: on a GPU a copy from pageable host memory
waits for all queued work, so the device would idle while the host drew and launched the next batches.
Batches are then prepared in chunks: on a GPU many at once (one conversion, augmentation and
normalisation for the chunk instead of a few dozen small kernel launches per batch; for the CPU
profile's small model trained on a GPU a chunk holds several epochs, so a small training prepares its
data in a handful of steps), on the CPU one at a time, where a batch stays in cache and launches cost
nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch

from fer3d.config import AugmentConfig
from fer3d.training.augment import apply_transforms, draw_params, transforms
from fer3d.training.inputs import model_input, to_float


@dataclass(frozen=True)
class Plan:
    """The batches of one or more consecutive epochs and the augmentation of every clip in them, on the
    training device. ``params`` and ``strength`` are the draws the transforms came from (kept for
    inspection and tests; a few bytes per clip)."""

    index: torch.Tensor  # [n] the clips of the kept batches, in order, on the device
    params: torch.Tensor  # [n, k] their augmentation draws (``augment.draw_params``), on the device
    strength: torch.Tensor  # [n] the augmentation strength of each row's epoch, on the device
    epochs: list[list[tuple[int, int]]]  # each epoch's batches, as [start, stop) rows of ``index``
    # the transforms the draws stand for (``augment.transforms``), derived once for the plan
    transforms: dict[str, torch.Tensor]

    @property
    def bounds(self) -> list[tuple[int, int]]:
        """Every batch of the plan, in order."""
        return [batch for epoch in self.epochs for batch in epoch]

    def chunks(self, batches_per_chunk: int) -> Iterator[list[tuple[int, int]]]:
        """The plan's batches in groups of ``batches_per_chunk``, across epoch boundaries."""
        bounds = self.bounds
        for first in range(0, len(bounds), batches_per_chunk):
            yield bounds[first : first + batches_per_chunk]


def batch_bounds(clips: int, batch_size: int) -> list[tuple[int, int]]:
    """An epoch of ``clips`` cut into batches; a lone last clip is left out (batch norm needs two samples)
    and reappears in a later epoch."""
    batches = [(start, min(start + batch_size, clips)) for start in range(0, clips, batch_size)]
    return [(start, stop) for start, stop in batches if stop - start >= 2]


def plan_epochs(
    epochs: Iterable[tuple[torch.Tensor, float]],
    batch_size: int,
    config: AugmentConfig,
    generator: torch.Generator,
    device: torch.device,
) -> Plan:
    """Plan the epochs that ``epochs`` yields as ``(order, strength)``: batches of ``order`` (clip
    indices) and the augmentation draws of their clips. ``epochs`` is consumed lazily, so an order drawn
    from ``generator`` comes before its epoch's augmentation and after the previous one's, as when
    planning one epoch at a time. Epochs at strength 0 (nothing drawn) and above cannot share a plan."""
    index, draws, strengths, planned, offset = [], [], [], [], 0
    for order, strength in epochs:
        bounds = batch_bounds(len(order), batch_size)
        # only the last batch can be short, so the kept batches are a prefix of the order; one draw for
        # all of them gives what a draw per batch would (``draw_params``)
        kept = bounds[-1][1] if bounds else 0
        index.append(order[:kept])
        draws.append(draw_params(kept, config, generator, strength))
        strengths.append(torch.full((kept,), float(strength)))
        planned.append([(offset + start, offset + stop) for start, stop in bounds])
        offset += kept
    if len({d.shape[1] for d in draws}) > 1:
        raise ValueError("epochs at augmentation strength 0 and above cannot share a plan")
    params, row_strength = to_device(torch.cat(draws), device), to_device(torch.cat(strengths), device)
    return Plan(
        to_device(torch.cat(index), device),
        params,
        row_strength,
        planned,
        transforms(params, config, row_strength),
    )


def plan_epoch(
    order: torch.Tensor,
    batch_size: int,
    config: AugmentConfig,
    generator: torch.Generator,
    strength: float,
    device: torch.device,
) -> Plan:
    """A plan of one epoch."""
    return plan_epochs([(order, strength)], batch_size, config, generator, device)


def epoch_groups(epochs: int, per_plan: int, config: AugmentConfig) -> list[range]:
    """The epochs ``0..epochs-1`` in consecutive groups of at most ``per_plan``, one plan each; a group
    does not mix epochs at strength 0 with augmented ones (``plan_epochs``)."""
    groups: list[range] = []
    for epoch in range(epochs):
        last = groups[-1] if groups else None
        if (
            last is not None
            and len(last) < per_plan
            and (config.strength(last.start) > 0) == (config.strength(epoch) > 0)
        ):
            groups[-1] = range(last.start, epoch + 1)
        else:
            groups.append(range(epoch, epoch + 1))
    return groups


def to_device(host: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``host`` on ``device``; to a GPU from pinned memory and without blocking the host (the caching host
    allocator keeps the pinned block until the copy is done), so the host queues on while the device
    works instead of waiting for its queue to drain."""
    if device.type != "cuda":
        return host.to(device)
    return host.pin_memory().to(device, non_blocking=True)


def prepare_chunk(
    plan: Plan,
    chunk: list[tuple[int, int]],
    clips: torch.Tensor,
    *,
    normalized: bool,
    channels_last: bool,
) -> list[torch.Tensor]:
    """The model inputs of the batches in ``chunk``, from uint8 ``clips`` on the device: converted,
    augmented and normalised together, then cut into the batches (views, no copies)."""
    start, stop = chunk[0][0], chunk[-1][1]
    rows = slice(start, stop)
    drawn = {name: values[rows] for name, values in plan.transforms.items()}
    augmented = apply_transforms(to_float(clips[plan.index[rows]]), drawn)
    inputs = model_input(augmented, normalized, channels_last)
    return [inputs[first - start : last - start] for first, last in chunk]


def epochs_per_plan(batches_per_chunk: int, batches_per_epoch: int) -> int:
    """As many whole epochs as a chunk holds, at least one: their data is then prepared in one go."""
    return max(1, batches_per_chunk // max(1, batches_per_epoch))


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
