"""Epoch plans and chunked batch preparation: the same batches as a batch-by-batch loop, in fewer steps."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
import torch

from fer3d.config import AugmentConfig
from fer3d.models import build_model
from fer3d.presets import get_config
from fer3d.training import fit
from fer3d.training.augment import augment, draw_params
from fer3d.training.batches import (
    DataClock,
    batches_per_chunk,
    epoch_groups,
    epochs_per_plan,
    plan_epoch,
    plan_epochs,
    prepare_chunk,
)
from fer3d.training.inputs import normalize, to_float
from fer3d.training.recipe import choose_recipe

CPU = torch.device("cpu")


def _clips(n: int) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, 1, 4, 16, 16), generator=torch.Generator().manual_seed(2), dtype=torch.uint8
    )


def test_the_plan_draws_what_a_batch_by_batch_loop_draws_and_drops_a_lone_last_clip() -> None:
    order = torch.randperm(11, generator=torch.Generator().manual_seed(0))
    plan = plan_epoch(order, 5, AugmentConfig(), torch.Generator().manual_seed(4), 0.7, CPU)
    assert plan.bounds == [(0, 5), (5, 10)]  # 5 + 5 + a lone clip, which batch norm cannot take
    assert torch.equal(plan.index, order[:10])
    generator = torch.Generator().manual_seed(4)
    one_by_one = [draw_params(5, AugmentConfig(), generator, 0.7) for _ in range(2)]
    assert torch.equal(plan.params, torch.cat(one_by_one))  # one draw for the epoch, as one per batch
    assert plan.params.shape == (10, 3)  # flip, rotation, contrast
    assert torch.equal(plan.strength, torch.full((10,), 0.7))


def test_at_strength_zero_the_plan_draws_nothing() -> None:
    generator = torch.Generator().manual_seed(4)
    plan = plan_epoch(torch.arange(8), 4, AugmentConfig(), generator, 0.0, CPU)
    assert plan.params.shape == (8, 0)
    assert torch.equal(
        torch.rand(3, generator=generator), torch.rand(3, generator=torch.Generator().manual_seed(4))
    )


@pytest.mark.parametrize("normalized", [False, True])
@pytest.mark.parametrize("batches_per_chunk", [1, 3, 10])
def test_chunks_give_the_batches_of_a_batch_by_batch_loop(normalized: bool, batches_per_chunk: int) -> None:
    clips, config = _clips(21), AugmentConfig()
    order = torch.randperm(21, generator=torch.Generator().manual_seed(3))
    plan = plan_epoch(order, 5, config, torch.Generator().manual_seed(1), 0.8, CPU)
    chunked = [
        batch
        for chunk in plan.chunks(batches_per_chunk)
        for batch in prepare_chunk(plan, chunk, clips, normalized=normalized, channels_last=True)
    ]
    # the loop this replaced: draw and prepare each batch in turn, skipping the lone last clip
    generator, expected = torch.Generator().manual_seed(1), []
    for start in range(0, 20, 5):
        batch = normalize(
            augment(to_float(clips[order[start : start + 5]]), config, generator, 0.8), normalized
        )
        expected.append(batch.contiguous(memory_format=torch.channels_last_3d))
    assert len(chunked) == len(expected) == 4
    for got, want in zip(chunked, expected, strict=True):
        assert torch.equal(got, want)
        assert got.is_contiguous(memory_format=torch.channels_last_3d)


def test_a_plan_of_several_epochs_draws_what_planning_each_epoch_in_turn_draws() -> None:
    config = AugmentConfig()

    def epochs(generator: torch.Generator):  # each order drawn from the generator, as the trainer does
        for size, strength in ((11, 0.5), (1, 0.6), (11, 0.75), (11, 1.0)):  # a lone clip: no batch
            yield torch.randperm(size, generator=generator), strength

    generator = torch.Generator().manual_seed(2)
    together = plan_epochs(epochs(generator), 5, config, generator, CPU)
    generator = torch.Generator().manual_seed(2)
    one_by_one = [plan_epoch(order, 5, config, generator, s, CPU) for order, s in epochs(generator)]
    assert together.epochs == [[(0, 5), (5, 10)], [], [(10, 15), (15, 20)], [(20, 25), (25, 30)]]
    for name in ("index", "params", "strength"):
        assert torch.equal(getattr(together, name), torch.cat([getattr(p, name) for p in one_by_one]))
    assert set(together.transforms) == {"flip", "theta", "alpha"}
    for name, values in together.transforms.items():
        assert torch.equal(values, torch.cat([p.transforms[name] for p in one_by_one]))


def test_epoch_groups_fill_each_plan_and_keep_unaugmented_epochs_apart() -> None:
    ramp = AugmentConfig(ramp_epochs=2)  # strengths 0, 0.5, 1, 1, ...
    assert epoch_groups(7, 3, ramp) == [range(0, 1), range(1, 4), range(4, 7)]
    assert epoch_groups(3, 1, ramp) == [range(0, 1), range(1, 2), range(2, 3)]
    assert epoch_groups(5, 10, AugmentConfig()) == [range(0, 5)]
    with pytest.raises(ValueError, match="strength 0"):
        plan_epochs([(torch.arange(4), 0.0), (torch.arange(4), 1.0)], 2, ramp, torch.Generator(), CPU)


def test_epochs_per_plan_counts_whole_epochs_in_a_chunk() -> None:
    assert epochs_per_plan(1, 6) == 1  # the CPU: one batch a chunk, one epoch a plan
    assert epochs_per_plan(256, 6) == 42
    assert epochs_per_plan(32, 33) == 1


def test_batches_per_chunk_fills_the_budget_and_is_one_without_one() -> None:
    assert batches_per_chunk(None, 16, (1, 10, 40, 40)) == 1
    batch_bytes = 16 * 4 * 10 * 40 * 40
    assert batches_per_chunk(5 * batch_bytes + 1, 16, (1, 10, 40, 40)) == 5
    assert batches_per_chunk(1, 16, (1, 10, 40, 40)) == 1


def test_fit_gives_the_same_losses_with_chunked_batch_preparation() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 0, 1, 2, 1])
    config = get_config(
        "oulu-paper",
        profile="tiny",
        overrides={"train.epochs": 4, "train.batch_size": 4, "train.augment.ramp_epochs": 2},
    )
    clips = torch.randint(0, 256, (len(labels), 1, 10, 32, 32), generator=torch.Generator().manual_seed(1))
    losses = []
    # one batch at a time and one epoch a plan; then epochs 1-3 in one plan, prepared in one chunk
    for chunk_bytes in (None, 10**9):
        recipe = dataclasses.replace(choose_recipe(config, "cpu"), data_chunk_bytes=chunk_bytes)
        torch.manual_seed(5)
        model = build_model(config, 3, 1)
        result = fit(model, clips.to(torch.uint8), labels, config, recipe, num_classes=3, seed=7)
        losses.append(result.epoch_losses)
    assert losses[0] == losses[1]  # bit for bit


def test_the_data_clock_adds_up_host_time_on_the_cpu() -> None:
    clock = DataClock(CPU)
    for _ in range(2):
        clock.start()
        time.sleep(0.02)
        clock.stop()
    assert 0.04 <= clock.seconds() == clock.host_seconds < 1
