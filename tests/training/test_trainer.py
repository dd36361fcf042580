"""The training loop: reproducible for a seed, balanced epochs, class weights, probabilities out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer3d.models import build_model
from fer3d.presets import get_config
from fer3d.training import fit, predict_proba
from fer3d.training.recipe import choose_recipe
from fer3d.training.trainer import class_weights, epoch_order

CONFIG = get_config("ckplus-paper", profile="tiny", overrides={"train.epochs": 1})
LABELS = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 0, 1, 2])


def _clips(n: int = len(LABELS)) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, 1, 10, 32, 32), generator=torch.Generator().manual_seed(1), dtype=torch.uint8
    )


def _first_epoch_loss(seed: int) -> float:
    recipe = choose_recipe(CONFIG, "cpu")
    torch.manual_seed(seed)  # the weights follow the global RNG, as in cross_validate
    model = build_model(CONFIG, 3, 1)
    return fit(model, _clips(), LABELS, CONFIG, recipe, num_classes=3, seed=seed).epoch_losses[0]


def test_same_seed_gives_the_same_first_epoch_loss() -> None:
    assert _first_epoch_loss(3) == pytest.approx(_first_epoch_loss(3), rel=1e-4)


def test_different_seed_gives_a_different_first_epoch_loss() -> None:
    assert _first_epoch_loss(3) != pytest.approx(_first_epoch_loss(4), rel=1e-4)


def test_fit_records_data_time_as_part_of_training_time() -> None:
    recipe = choose_recipe(CONFIG, "cpu")
    result = fit(build_model(CONFIG, 3, 1), _clips(), LABELS, CONFIG, recipe, num_classes=3, seed=0)
    assert 0 < result.data_seconds < result.seconds
    # balanced: 3 classes oversampled to the majority (5 clips of class 0)
    assert result.clips_seen == 15


def test_augmentation_follows_the_ramp_epoch_by_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    import fer3d.training.batches as batches

    strengths: list[float] = []
    draw_params = batches.draw_params

    def recording_draw(b, config, generator, strength):
        strengths.append(strength)
        return draw_params(b, config, generator, strength)

    monkeypatch.setattr(batches, "draw_params", recording_draw)
    config = CONFIG.with_overrides({"train.epochs": 3, "train.augment.ramp_epochs": 2})
    fit(
        build_model(config, 3, 1),
        _clips(),
        LABELS,
        config,
        choose_recipe(config, "cpu"),
        num_classes=3,
        seed=0,
    )
    assert strengths == [0.0, 0.5, 1.0]  # one draw per epoch


def test_balanced_epoch_oversamples_every_class_to_the_majority_and_keeps_every_clip() -> None:
    order = epoch_order(LABELS, balance=True, generator=torch.Generator().manual_seed(0)).numpy()
    assert np.bincount(LABELS[order]).tolist() == [5, 5, 5]
    assert set(order.tolist()) == set(range(len(LABELS)))


def test_dataset_sized_balanced_epoch_keeps_the_set_size_and_draws_every_class_equally() -> None:
    labels = np.array([0] * 10 + [1] * 3 + [2] * 2)
    order = epoch_order(labels, True, torch.Generator().manual_seed(0), epoch_size="dataset").numpy()
    assert len(order) == len(labels)
    assert np.bincount(labels[order]).tolist() == [5, 5, 5]
    assert len(set(order[labels[order] == 0].tolist())) == 5  # the majority class is subsampled, no repeats
    assert set(order[labels[order] != 0].tolist()) == set(range(10, 15))  # every minority clip drawn
    # no clip drawn twice more than another of its class: class 2 (2 clips, quota 5) gives 3 + 2
    assert sorted(np.bincount(order[labels[order] == 2])[13:].tolist()) == [2, 3]


def test_dataset_sized_epochs_spread_the_remainder_and_cover_the_majority_class_over_epochs() -> None:
    labels = np.array([0] * 10 + [1] * 3 + [2] * 3)  # 16 clips, 3 classes: quotas 6, 5, 5 in some order
    generator = torch.Generator().manual_seed(0)
    seen: set[int] = set()
    for _ in range(6):
        order = epoch_order(labels, True, generator, epoch_size="dataset").numpy()
        assert len(order) == 16
        assert sorted(np.bincount(labels[order]).tolist()) == [5, 5, 6]
        seen |= set(order.tolist())
    assert seen == set(range(16))  # a fresh subsample each epoch reaches every majority clip


def test_unbalanced_epoch_is_a_permutation() -> None:
    order = epoch_order(LABELS, balance=False, generator=torch.Generator().manual_seed(0)).numpy()
    assert sorted(order.tolist()) == list(range(len(LABELS)))


def test_class_weights_are_inverse_frequency_and_zero_for_absent_classes() -> None:
    weights = class_weights(np.array([0, 0, 0, 1]), num_classes=3)
    assert weights.tolist() == pytest.approx([4 / 9, 4 / 3, 0.0])


def test_predict_proba_gives_one_distribution_per_clip() -> None:
    recipe = choose_recipe(CONFIG, "cpu")
    probs = predict_proba(build_model(CONFIG, 3, 1), _clips(5), CONFIG, recipe, batch_size=2)
    assert probs.shape == (5, 3)
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-4)


TECHNIQUES = {
    "label_smoothing": {"train.label_smoothing": 0.1},
    "warmup": {"train.epochs": 2, "train.warmup_epochs": 1},
    "ema": {"train.ema_decay": 0.9},
    "mixup": {"train.mix": "mixup"},
    "cutmix": {"train.mix": "cutmix", "train.mix_alpha": 1.0},
    "adamw": {"train.optimizer": "adamw", "train.weight_decay": 5.0},
    "lookahead_adamw": {"train.optimizer": "lookahead_adamw", "train.weight_decay": 5.0},
}


def _train(overrides: dict, seed: int = 3) -> tuple[list[float], np.ndarray]:
    config = CONFIG.with_overrides(overrides)
    recipe = choose_recipe(config, "cpu")
    torch.manual_seed(seed)
    model = build_model(config, 3, 1)
    losses = fit(model, _clips(), LABELS, config, recipe, num_classes=3, seed=seed).epoch_losses
    return losses, predict_proba(model, _clips(5), config, recipe)


@pytest.mark.parametrize("name", sorted(TECHNIQUES))
def test_each_training_technique_is_reproducible_for_a_seed_and_changes_the_training(name: str) -> None:
    losses, probs = _train(TECHNIQUES[name])
    again_losses, again_probs = _train(TECHNIQUES[name])
    assert losses == pytest.approx(again_losses, rel=1e-4)
    assert np.allclose(probs, again_probs, atol=1e-5)
    assert probs.shape == (5, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    plain_losses, plain_probs = _train({k: v for k, v in TECHNIQUES[name].items() if k == "train.epochs"})
    # the technique acts: another loss (training-time techniques) or other final weights (EMA)
    assert losses != pytest.approx(plain_losses, rel=1e-4) or not np.allclose(probs, plain_probs, atol=1e-4)


def test_ema_trains_like_plain_training_and_ends_on_the_averaged_weights(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fer3d.training.trainer as trainer
    from fer3d.training.ema import WeightAverage

    made: list[WeightAverage] = []

    class Recorded(WeightAverage):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(trainer, "WeightAverage", Recorded)
    ema_losses, _ = _train({"train.ema_decay": 0.9})
    plain_losses, _ = _train({})
    assert ema_losses == pytest.approx(plain_losses, rel=1e-5)  # the average is only tracked
    (average,) = made
    assert average.updates == 2  # 15 balanced clips, batch 8: one step per batch
    params = [p for p in average._params]
    assert all(torch.equal(p, a) for p, a in zip(params, average._average, strict=True))


def test_mirror_tta_averages_the_clip_and_its_horizontal_mirror() -> None:
    recipe = choose_recipe(CONFIG, "cpu")
    torch.manual_seed(0)
    model = build_model(CONFIG, 3, 1)
    fit(model, _clips(), LABELS, CONFIG, recipe, num_classes=3, seed=0)  # a fresh head predicts uniform
    clips = _clips(5)
    mirrored_config = CONFIG.with_overrides({"test.mirror": True})
    tta = predict_proba(model, clips, mirrored_config, recipe, batch_size=2)
    plain = predict_proba(model, clips, CONFIG, recipe)
    flipped = predict_proba(model, clips.flip(-1).contiguous(), CONFIG, recipe)
    assert tta.shape == (5, 3)
    assert np.allclose(tta, (plain + flipped) / 2, atol=1e-5)
    assert not np.allclose(tta, plain, atol=1e-4)
