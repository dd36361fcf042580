"""A task-agnostic training loop: fixed epochs, no model selection on held-out data.

The clips of a fold are moved to the device once as uint8. Epochs are planned in groups (one epoch on
the CPU, as many as a data chunk holds on a GPU): their orders and augmentation are drawn together and
their batches converted, augmented and normalised on the device (``training.batches``), so there is no
per-sample Python work in the loop. The losses stay on the device and are read once after the last
step, so on a GPU the host never waits for the device during training.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from fer3d.config import EpochSize, ExperimentConfig
from fer3d.training.batches import (
    DataClock,
    Plan,
    batch_bounds,
    batches_per_chunk,
    epoch_groups,
    epochs_per_plan,
    plan_epochs,
    prepare_chunk,
)
from fer3d.training.batchnorm import recalibrate_batchnorm
from fer3d.training.ema import WeightAverage
from fer3d.training.inputs import model_input, to_float
from fer3d.training.mix import mix_batch
from fer3d.training.optim import make_optimizer, make_scheduler
from fer3d.training.recipe import Recipe, training_forward

# (epoch index, epochs, the epoch's mean loss, seconds since the training started)
EpochCallback = Callable[[int, int, float, float], None]


@dataclass
class FitResult:
    epoch_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    clips_seen: int = 0
    # time spent drawing, moving and preparing batches (conversion, augmentation, normalisation); on a GPU
    # the device's time between CUDA events around that work (``training.batches.DataClock``)
    data_seconds: float = 0.0


def class_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights ``N / (K * n_c)``; a class absent from training gets weight 0."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = np.where(counts > 0, len(labels) / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def epoch_order(
    labels: np.ndarray, balance: bool, generator: torch.Generator, epoch_size: EpochSize = "majority"
) -> torch.Tensor:
    """Indices for one epoch. With ``balance`` every class is drawn equally often: with ``epoch_size``
    "majority" every class is oversampled to the majority count (each clip at least once; the duplicates
    differ through augmentation); with "dataset" the epoch keeps ``len(labels)`` clips, ``len / K`` per
    class (the remainder spread over random classes), each class subsampled or oversampled to that."""
    if not balance:
        return torch.randperm(len(labels), generator=generator)
    classes, counts = np.unique(labels, return_counts=True)
    # each class's clips in increasing index order, from one sort rather than a scan per class
    by_class = torch.from_numpy(np.argsort(labels, kind="stable")).split(counts.tolist())
    parts = []
    if epoch_size == "majority":
        target = counts.max()
        for members, count in zip(by_class, counts, strict=True):
            extra = members[torch.randint(len(members), (int(target - count),), generator=generator)]
            parts += [members, extra]
    else:
        quotas = np.full(len(classes), len(labels) // len(classes))
        quotas[torch.randperm(len(classes), generator=generator)[: len(labels) % len(classes)].numpy()] += 1
        for members, quota in zip(by_class, quotas, strict=True):
            shuffled = members[torch.randperm(len(members), generator=generator)]
            whole, rest = divmod(int(quota), len(members))
            # every member `whole` times, then `rest` distinct ones: no clip twice more than another
            parts += [shuffled] * whole + [shuffled[:rest]]
    order = torch.cat(parts)
    return order[torch.randperm(len(order), generator=generator)]


def fit(
    model: nn.Module,
    clips: torch.Tensor,
    labels: np.ndarray,
    config: ExperimentConfig,
    recipe: Recipe,
    *,
    num_classes: int,
    seed: int,
    progress: bool = False,
    on_epoch: EpochCallback | None = None,
) -> FitResult:
    """Train ``model`` on uint8 ``clips [N, C, T, H, W]`` with integer ``labels`` for fixed epochs.

    ``on_epoch(epoch, epochs, loss, seconds)`` is called after each epoch with its mean loss and the
    seconds since training started (on a GPU it waits for the device to finish the epoch).

    ``seed`` drives the epoch order and augmentation; the model's initial weights and dropout follow
    torch's global RNG, which the caller seeds. On CPU the same seed gives the same losses to within
    1e-4 relative for a fixed thread count (tested; ``models.conv`` pads the bf16 layers explicitly).
    """
    train = config.train
    generator = torch.Generator().manual_seed(seed)
    model.to(recipe.device)
    if recipe.channels_last:
        model.to(memory_format=torch.channels_last_3d)
    model.train()
    optimizer = make_optimizer(model, train, fused=recipe.fused_optimizer)
    scheduler = make_scheduler(optimizer, train)
    weight = class_weights(labels, num_classes).to(recipe.device) if train.class_weights else None
    loss_fn = nn.CrossEntropyLoss(weight=weight, label_smoothing=train.label_smoothing)
    average = WeightAverage(model, train.ema_decay) if train.ema_decay > 0 else None
    # mixing draws its own stream, so the epoch orders and augmentation match a run without it
    mix_generator = torch.Generator().manual_seed(seed + 1_000_003) if train.mix != "none" else None
    device_clips = clips.to(recipe.device)  # uint8, once per fold
    device_labels = torch.from_numpy(labels).to(recipe.device)
    result = FitResult()
    clock = DataClock(recipe.device)
    chunk_batches = batches_per_chunk(recipe.data_chunk_bytes, train.batch_size, tuple(clips.shape[1:]))
    start = time.perf_counter()
    first_order = epoch_order(labels, train.augment.balance, generator, train.augment.epoch_size)
    per_plan = epochs_per_plan(chunk_batches, len(batch_bounds(len(first_order), train.batch_size)))

    def order_and_strength(epoch: int) -> tuple[torch.Tensor, float]:
        order = (
            first_order
            if epoch == 0
            else epoch_order(labels, train.augment.balance, generator, train.augment.epoch_size)
        )
        return order, train.augment.strength(epoch)

    step_losses_per_epoch: list[torch.Tensor | None] = []  # on the device until the training ends
    epoch_bounds: list[list[tuple[int, int]]] = []
    bar = tqdm(total=train.epochs, desc="train", unit="epoch", disable=not progress, leave=False)
    with recipe.torch_flags(), bar:
        forward = training_forward(model, recipe, steps=train.epochs * (len(first_order) // train.batch_size))
        for group in epoch_groups(train.epochs, per_plan, train.augment):
            clock.start()  # drawing the orders and augmentation and moving them to the device are data time
            plan = plan_epochs(
                (order_and_strength(epoch) for epoch in group),
                train.batch_size,
                train.augment,
                generator,
                recipe.device,
            )
            labels_in_order = device_labels[plan.index]
            clock.stop()
            batches = _prepared_batches(plan, chunk_batches, device_clips, config, recipe, clock)
            for bounds in plan.epochs:
                step_losses: list[torch.Tensor] = []
                for first, last in bounds:
                    batch = next(batches)
                    with recipe.autocast():
                        # a short last batch runs eager: compiling its size too would cost a compile per fold
                        step_model = forward if last - first == train.batch_size else model
                        targets = labels_in_order[first:last]
                        if mix_generator is not None:
                            batch, targets = mix_batch(
                                batch, targets, num_classes, train.mix, train.mix_alpha, mix_generator
                            )
                        loss = loss_fn(step_model(batch), targets)
                    del batch  # a chunk is freed before the next one is prepared
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    if average is not None:
                        average.update()
                    step_losses.append(loss.detach())
                step_losses_per_epoch.append(torch.stack(step_losses) if step_losses else None)
                epoch_bounds.append(bounds)
                scheduler.step()
                if on_epoch is not None:
                    loss_now = _epoch_losses(step_losses_per_epoch[-1:], epoch_bounds[-1:])[0]
                    on_epoch(len(epoch_bounds) - 1, train.epochs, loss_now, time.perf_counter() - start)
                bar.update()
            del plan, labels_in_order, batches  # before the next plan is drawn
    # read once, after the last step: reading per step or per epoch would make the host wait for the
    # device, which then idles while the host draws and launches the next batches
    result.epoch_losses = _epoch_losses(step_losses_per_epoch, epoch_bounds)
    result.clips_seen = sum(last - first for bounds in epoch_bounds for first, last in bounds)
    result.data_seconds = clock.seconds()
    result.seconds = time.perf_counter() - start
    if average is not None:
        average.load_into_model()  # every caller (evaluation, saved model, export) gets the average
    # Precise BN (see training/batchnorm.py): short trainings otherwise leave stale running averages.
    recalibrate_batchnorm(model, clips, config, recipe)
    return result


def _prepared_batches(
    plan: Plan,
    chunk_batches: int,
    device_clips: torch.Tensor,
    config: ExperimentConfig,
    recipe: Recipe,
    clock: DataClock,
) -> Iterator[torch.Tensor]:
    """The plan's model inputs, batch after batch, prepared ``chunk_batches`` at a time (timed)."""
    for chunk in plan.chunks(chunk_batches):
        clock.start()
        prepared = prepare_chunk(
            plan,
            chunk,
            device_clips,
            normalized=config.input.normalize,
            channels_last=recipe.channels_last,
        )
        clock.stop()
        prepared.reverse()
        while prepared:  # hand each batch over without keeping a reference to it here
            yield prepared.pop()


def _epoch_losses(step_losses: list[torch.Tensor | None], bounds: list[list[tuple[int, int]]]) -> list[float]:
    """Each epoch's loss, its steps' mean losses weighted by their batch sizes; one read from the device.
    ``step_losses``: each epoch's step losses, ``None`` for an epoch without a batch."""
    read = [losses for losses in step_losses if losses is not None]
    values = iter(torch.cat(read).tolist() if read else [])
    losses = []
    for epoch_bounds in bounds:
        sizes = [last - first for first, last in epoch_bounds]
        total = sum((next(values) * size for size in sizes), 0.0)
        losses.append(total / max(1, sum(sizes)))
    return losses


@torch.no_grad()
def predict_proba(
    model: nn.Module, clips: torch.Tensor, config: ExperimentConfig, recipe: Recipe, batch_size: int = 64
) -> np.ndarray:
    """Class probabilities ``[N, K]`` for uint8 ``clips [N, C, T, H, W]``; with ``config.test.mirror``
    the mean of the softmax of each clip and of its horizontal mirror (test-time augmentation)."""
    model.to(recipe.device).eval()
    if recipe.channels_last:
        model.to(memory_format=torch.channels_last_3d)
    out = []
    with recipe.torch_flags():
        for first in range(0, len(clips), batch_size):
            raw = to_float(clips[first : first + batch_size].to(recipe.device))
            views = [raw, raw.flip(-1)] if config.test.mirror else [raw]
            probs = 0
            for view in views:
                batch = model_input(view, config.input.normalize, recipe.channels_last)
                with recipe.autocast():
                    probs = probs + torch.softmax(model(batch).float(), dim=1)
            out.append((probs / len(views)).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)
