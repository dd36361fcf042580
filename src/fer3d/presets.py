"""Named configurations: the paper's final architectures and size profiles.

A preset fixes the searched choices (the paper's Tables 2 and 4). A profile fixes the cost: input
size, width and epochs. ``get_config("ckplus-paper", profile="cpu")`` combines them.
"""

from __future__ import annotations

from typing import Any

from fer3d.config import AugmentConfig, ConfigError, ExperimentConfig, InputConfig, ModelConfig, TrainConfig

# Table 2: the configuration the paper's search found on CK+.
CKPLUS_PAPER = ExperimentConfig(
    input=InputConfig(clahe=True, normalize=False, size=112),
    model=ModelConfig(
        activation="relu",
        temporal_kernel=3,
        init="xavier_uniform",
        pooling="avg",
        extra_block=False,
        dropout=0.2511,
    ),
    train=TrainConfig(optimizer="adam", class_weights=False, augment=AugmentConfig()),
)

# Table 4: the configuration the paper's search found on Oulu-CASIA.
OULU_PAPER = ExperimentConfig(
    input=InputConfig(clahe=False, normalize=True, size=112),
    model=ModelConfig(
        activation="leaky_relu",
        temporal_kernel=3,
        init="xavier_normal",
        pooling="max",
        extra_block=False,
        dropout=0.4233,
    ),
    train=TrainConfig(optimizer="lookahead_adam", class_weights=False, augment=AugmentConfig()),
)

PRESETS: dict[str, ExperimentConfig] = {"ckplus-paper": CKPLUS_PAPER, "oulu-paper": OULU_PAPER}

# Cost profiles: dotted overrides applied on top of a preset.
PROFILES: dict[str, dict[str, Any]] = {
    # The paper's scale: C3D at full width on 112x112 clips (a GPU job).
    "full": {},
    # Small enough for a laptop CPU: 40x40 input, quarter width (conv 16..128, FC 1024), 28 epochs. These
    # short trainings are limited by the clips they see: the augmentation is ramped in over the first 14
    # epochs and epochs stay majority-sized (fewer epochs, fewer frames or a higher lr lost accuracy).
    # Label smoothing 0.1 with a weight average (EMA 0.995) and mirror TTA: +6.1 points on a CK+-sized
    # synthetic set of 3-frame sequences, same folds, p < 0.02. Measurements: docs/techniques.md.
    "cpu": {
        "input.size": 40,
        "model.width": 0.25,
        "train.epochs": 28,
        "train.augment.ramp_epochs": 14,
        "train.batch_size": 16,
        "train.lr": 3e-4,
        "train.label_smoothing": 0.1,
        "train.ema_decay": 0.995,
        "test.mirror": True,
    },
    # For tests and smoke runs: seconds per fold.
    "tiny": {
        "input.size": 32,
        "model.width": 0.125,
        "train.epochs": 2,
        "train.batch_size": 8,
        "train.lr": 1e-3,
    },
}


AUTO = "auto"  # ``--profile auto``: "full" on a GPU, "cpu" otherwise (see resolve_profile)


def resolve_profile(name: str, device: str | None = None) -> tuple[str, str]:
    """The profile to use and why: ``auto`` becomes "full" when ``device`` (or, without one, the first
    visible device) is a CUDA GPU and "cpu" otherwise; any other name is returned as given."""
    if name != AUTO:
        return name, "as given"
    if device is not None:
        gpu = device.startswith("cuda")
        return ("full", f"auto: --device {device}") if gpu else ("cpu", f"auto: --device {device}")
    import torch

    if torch.cuda.is_available():
        return "full", f"auto: GPU {torch.cuda.get_device_name(0)}"
    return "cpu", "auto: no GPU"


def get_config(
    preset: str, profile: str = "full", overrides: dict[str, Any] | None = None
) -> ExperimentConfig:
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    return apply_profile(PRESETS[preset], profile, overrides)


def apply_profile(
    config: ExperimentConfig, profile: str = "full", overrides: dict[str, Any] | None = None
) -> ExperimentConfig:
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    return config.with_overrides({**PROFILES[profile], **(overrides or {})})
