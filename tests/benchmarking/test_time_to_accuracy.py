"""The time-to-accuracy experiment's bookkeeping: frozen old profile, scaled epochs, time to a target."""

from __future__ import annotations

from experiments import time_to_accuracy as tta


def test_old_profile_is_the_frozen_values_on_the_preset():
    old = tta.profiles()["old"]
    assert (old.input.size, old.model.width, old.train.batch_size) == (40, 0.25, 16)
    assert (old.train.epochs, old.train.augment.ramp_epochs, old.train.lr) == (28, 14, 3e-4)


def test_at_epochs_scales_the_ramp_with_the_epochs():
    half = tta.at_epochs(tta.profiles()["old"], 14)
    assert (half.train.epochs, half.train.augment.ramp_epochs) == (14, 7)


def test_reached_is_the_least_wall_time_at_or_above_each_target():
    rows = [
        {"wall_s": 300.0, "pooled_accuracy": 0.62},
        {"wall_s": 600.0, "pooled_accuracy": 0.75},
        {"wall_s": 450.0, "pooled_accuracy": 0.71},
    ]
    assert tta.reached(rows, (0.6, 0.7, 0.8)) == {"0.60": 300.0, "0.70": 450.0, "0.80": None}
