"""Training on a GPU under the CUDA recipe. CI has no GPU, so these skip there; they run on a GPU machine
(``pytest tests/training/test_cuda.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer3d.models import build_model
from fer3d.presets import get_config
from fer3d.training import fit, predict_proba
from fer3d.training.recipe import choose_recipe

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")

CONFIG = get_config("ckplus-paper", profile="tiny", overrides={"train.epochs": 2})
LABELS = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 0, 1, 2])
# the documented tolerance for a repeated CUDA training (README, "Reproducibility")
CUDA_REPEAT_RTOL = 1e-3


def _clips(n: int = len(LABELS)) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, 1, 10, 32, 32), generator=torch.Generator().manual_seed(1), dtype=torch.uint8
    )


def _fit(config=CONFIG, seed: int = 0):
    recipe = choose_recipe(config, "cuda")
    torch.manual_seed(seed)
    model = build_model(config, 3, 1)
    return model, recipe, fit(model, _clips(), LABELS, config, recipe, num_classes=3, seed=seed)


def test_the_cuda_recipe_is_bf16_channels_last_fused_and_autotuned() -> None:
    recipe = choose_recipe(CONFIG, "cuda")
    assert recipe.autocast_dtype == (torch.bfloat16 if torch.cuda.is_bf16_supported() else None)
    assert recipe.channels_last and recipe.fused_optimizer
    before = torch.backends.cudnn.benchmark
    with recipe.torch_flags():
        assert torch.backends.cudnn.benchmark
    assert torch.backends.cudnn.benchmark == before  # restored: the library leaves it as it found it


@pytest.mark.parametrize("kt", [1, 3, 5, 7, 9])
def test_one_training_step_for_every_temporal_kernel(kt: int) -> None:
    config = CONFIG.with_overrides({"model.temporal_kernel": kt, "train.epochs": 1})
    model, _, result = _fit(config)
    assert np.isfinite(result.epoch_losses).all()
    assert all(p.device.type == "cuda" and torch.isfinite(p).all() for p in model.parameters())


def test_same_seed_gives_the_same_losses_within_the_documented_tolerance() -> None:
    first, second = _fit()[2].epoch_losses, _fit()[2].epoch_losses
    print(f"repeat relative difference: {np.max(np.abs(np.subtract(first, second)) / np.abs(first)):.2e}")
    assert first == pytest.approx(second, rel=CUDA_REPEAT_RTOL)


def test_fit_then_predict_on_cuda_gives_probabilities_and_times_the_data() -> None:
    model, recipe, result = _fit()
    assert 0 < result.data_seconds < result.seconds
    probs = predict_proba(model, _clips(5), CONFIG, recipe)
    assert probs.shape == (5, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_augmentation_on_the_gpu_matches_the_cpu_for_the_same_seed() -> None:
    from fer3d.config import AugmentConfig
    from fer3d.training.augment import augment

    clips = torch.rand(8, 1, 6, 24, 24, generator=torch.Generator().manual_seed(0))
    on_cpu = augment(clips, AugmentConfig(), torch.Generator().manual_seed(3))
    on_gpu = augment(clips.cuda(), AugmentConfig(), torch.Generator().manual_seed(3))
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, atol=1e-4, rtol=1e-4)


def test_chunked_batch_preparation_on_the_gpu_tracks_one_batch_at_a_time() -> None:
    import dataclasses

    assert choose_recipe(CONFIG, "cuda").data_chunk_bytes is not None  # chunks are the CUDA default
    losses = []
    for chunk_bytes in (None, choose_recipe(CONFIG, "cuda").data_chunk_bytes):
        recipe = dataclasses.replace(choose_recipe(CONFIG, "cuda"), data_chunk_bytes=chunk_bytes)
        torch.manual_seed(0)
        model = build_model(CONFIG, 3, 1)
        losses.append(fit(model, _clips(), LABELS, CONFIG, recipe, num_classes=3, seed=0).epoch_losses)
    assert losses[0] == pytest.approx(losses[1], rel=CUDA_REPEAT_RTOL)


def test_the_data_clock_times_the_device_work_not_just_its_launch() -> None:
    from fer3d.training.batches import DataClock

    clock = DataClock(torch.device("cuda", torch.cuda.current_device()))
    clock.start()
    torch.cuda._sleep(100_000_000)  # about 50 ms of device time, launched in microseconds
    clock.stop()
    assert clock.seconds() > 0.01 > clock.host_seconds


def test_the_training_loop_never_makes_the_host_wait_for_the_device(monkeypatch) -> None:
    """No synchronising read and no copy from pageable memory per epoch: the count of both over a whole
    fit (the fold's clips, the final read of the losses, the batch-norm recalibration) does not grow with
    the epochs. Each epoch gets a plan of its own (a chunk of one batch), so a per-epoch loss read or an
    unpinned plan copy would add one per epoch."""
    import dataclasses
    import warnings

    waits: list[str] = []
    original_to = torch.Tensor.to

    def recording_to(self, *args, **kwargs):
        moved = original_to(self, *args, **kwargs)
        if self.device.type == "cpu" and moved.device.type == "cuda" and not self.is_pinned():
            waits.append("pageable copy")
        return moved

    def count(epochs: int) -> int:
        waits.clear()
        monkeypatch.setattr(torch.Tensor, "to", recording_to)
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                config = CONFIG.with_overrides({"train.epochs": epochs})
                recipe = dataclasses.replace(choose_recipe(config, "cuda"), data_chunk_bytes=1)  # one batch
                torch.manual_seed(0)
                model = build_model(config, 3, 1)
                fit(model, _clips(), LABELS, config, recipe, num_classes=3, seed=0)
        finally:
            torch.cuda.set_sync_debug_mode("default")
            monkeypatch.setattr(torch.Tensor, "to", original_to)
        return len(waits) + sum("synchroniz" in str(w.message) for w in caught)

    count(2)  # warm-up: cuDNN autotuning and first-call allocations
    two, five = count(2), count(5)
    print(f"host waits for the device over a fit of 2 / 5 epochs: {two} / {five}")
    assert two == five
