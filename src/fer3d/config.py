"""Typed, frozen experiment configuration; JSON round trip with unknown keys rejected.

An :class:`ExperimentConfig` says everything needed to train and evaluate one model on a prepared
clip cache: what the model sees (:class:`InputConfig`), the network (:class:`ModelConfig`) and how it is
trained (:class:`TrainConfig`). The paper's searched choices (its Table 1) are all fields here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from fer3d.atomic import write_text_atomic

Activation = Literal["relu", "elu", "prelu", "leaky_relu", "mish"]
Init = Literal["xavier_uniform", "xavier_normal"]
Pooling = Literal["avg", "max"]
TemporalHead = Literal["none", "lstm", "attention"]
Optimizer = Literal["adam", "lookahead_adam", "adamw", "lookahead_adamw"]
Mix = Literal["none", "mixup", "cutmix"]
Precision = Literal["auto", "fp32", "bf16"]
Compile = Literal["auto", "on", "off"]
EpochSize = Literal["majority", "dataset"]

TEMPORAL_KERNELS = (1, 3, 5, 7, 9)


# Metadata of a field added after results were saved: at its default it is left out of the fingerprint,
# so run folders, search studies and trained models made before it still match their configs.
ADDED_LATER = {"fingerprint_omits_default": True}


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message says which and how to fix it."""


@dataclass(frozen=True)
class InputConfig:
    """What the network sees, derived from the cached clips without redoing face work."""

    clahe: bool = True  # use the CLAHE variant stored in the cache
    normalize: bool = False  # per-clip standardisation (zero mean, unit variance)
    size: int = 112  # spatial size fed to the model; cached clips are resized once if different
    frames: int = 10  # use the last `frames` frames of each cached clip (1 = a single-frame baseline)

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ConfigError(f"input.size must be at least 16, got {self.size}")
        if self.frames < 1:
            raise ConfigError(f"input.frames must be at least 1, got {self.frames}")


@dataclass(frozen=True)
class ModelConfig:
    """C3D-BN network choices (Tran et al. 2015 with batch norm)."""

    activation: Activation = "relu"
    temporal_kernel: int = 3
    init: Init = "xavier_uniform"
    pooling: Pooling = "avg"
    extra_block: bool = False
    dropout: float = 0.5
    width: float = 1.0  # multiplies every conv and FC width (1.0 = the original 64..512 / 4096)
    # over the per-time-step C3D features before the classifier: "none" flattens the last feature map
    # (the paper's C3D); "lstm" / "attention" keep the time axis and pool it by an LSTM / attention
    temporal_head: TemporalHead = field(default="none", metadata=ADDED_LATER)

    def __post_init__(self) -> None:
        if self.temporal_kernel not in TEMPORAL_KERNELS:
            raise ConfigError(
                f"model.temporal_kernel must be one of {TEMPORAL_KERNELS}, got {self.temporal_kernel}"
            )
        if not 0.0 <= self.dropout <= 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1], got {self.dropout}")
        if self.width <= 0:
            raise ConfigError(f"model.width must be positive, got {self.width}")


@dataclass(frozen=True)
class AugmentConfig:
    """Batched clip augmentation; the same transform is applied to every frame of a clip."""

    mirror: bool = True
    rotation_deg: float = 10.0  # uniform in [-rotation_deg, rotation_deg]
    contrast: tuple[float, float] = (0.7, 1.3)  # linear contrast factor range
    balance: bool = True  # every class equally often in an epoch (duplicates differ through augmentation)
    # With balance, an epoch's length: "majority" oversamples every class to the largest class's count
    # (K x majority clips); "dataset" keeps the training set's size N, drawing N/K clips of every class
    # (minority classes oversampled, larger ones a fresh subsample each epoch). On CK+ (majority 83 of
    # 327) "dataset" epochs are 1.78x shorter.
    epoch_size: EpochSize = "majority"
    # Augmentation schedule: the strength (mirror probability, rotation range, contrast spread) rises
    # linearly from 0 at the first epoch to full at epoch `ramp_epochs` and stays full after it; 0 means
    # full strength from the start. Short trainings need it: see the "cpu" profile in presets.py.
    ramp_epochs: int = field(default=0, metadata=ADDED_LATER)

    def __post_init__(self) -> None:
        if self.ramp_epochs < 0:
            raise ConfigError(f"train.augment.ramp_epochs must be 0 or more, got {self.ramp_epochs}")

    def strength(self, epoch: int) -> float:
        """The augmentation strength in [0, 1] for a 0-based ``epoch``."""
        return 1.0 if self.ramp_epochs == 0 else min(1.0, epoch / self.ramp_epochs)


@dataclass(frozen=True)
class TrainConfig:
    optimizer: Optimizer = "adam"
    lr: float = 3e-4
    weight_decay: float = 0.0
    epochs: int = 20
    batch_size: int = 16
    class_weights: bool = False  # inverse-frequency weights in the cross-entropy
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    precision: Precision = "auto"  # "auto": the per-device recipe (see fer3d.training.recipe)
    # torch.compile of the training step; "auto": where it was measured faster (see fer3d.training.recipe)
    compile: Compile = field(default="auto", metadata=ADDED_LATER)
    # cross-entropy towards (1 - s) on the label and s / K on every class (0 = plain one-hot targets)
    label_smoothing: float = field(default=0.0, metadata=ADDED_LATER)
    # the lr rises linearly over these first epochs, then follows the cosine over the remaining ones
    warmup_epochs: int = field(default=0, metadata=ADDED_LATER)
    # exponential moving average of the weights (0 = off); the averaged weights are the trained model
    ema_decay: float = field(default=0.0, metadata=ADDED_LATER)
    # mixup / cutmix of whole clips: one mixing weight ~ Beta(mix_alpha, mix_alpha) and one box per
    # clip, the same box on every frame, so the motion of both clips is kept
    mix: Mix = field(default="none", metadata=ADDED_LATER)
    mix_alpha: float = field(default=0.2, metadata=ADDED_LATER)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("train.epochs and train.batch_size must be at least 1")
        if self.lr <= 0:
            raise ConfigError(f"train.lr must be positive, got {self.lr}")
        if self.weight_decay < 0:
            raise ConfigError(f"train.weight_decay must be 0 or more, got {self.weight_decay}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"train.label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ConfigError(
                f"train.warmup_epochs must be in [0, train.epochs), got {self.warmup_epochs} "
                f"with {self.epochs} epochs"
            )
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"train.ema_decay must be in [0, 1) (0 = off), got {self.ema_decay}")
        if self.mix_alpha <= 0:
            raise ConfigError(f"train.mix_alpha must be positive, got {self.mix_alpha}")


@dataclass(frozen=True)
class TestConfig:
    """Test-time choices: how a trained model's probabilities are computed."""

    __test__ = False  # not a pytest test class

    mirror: bool = False  # average the softmax of each clip and of its horizontal mirror
    ensemble: int = 1  # models trained with different seeds whose probabilities are averaged

    def __post_init__(self) -> None:
        if self.ensemble < 1:
            raise ConfigError(f"test.ensemble must be at least 1, got {self.ensemble}")


@dataclass(frozen=True)
class ExperimentConfig:
    input: InputConfig = field(default_factory=InputConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    test: TestConfig = field(default_factory=TestConfig, metadata=ADDED_LATER)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def to_json(self, path: str | Path) -> None:
        """Write the config atomically: a killed or failed write leaves any earlier file whole."""
        write_text_atomic(Path(path), json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        return from_dict(cls, data)

    @classmethod
    def from_json(cls, path: str | Path) -> ExperimentConfig:
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except json.JSONDecodeError as err:
            raise ConfigError(f"config file {path} is not valid JSON: {err}") from None
        try:
            return cls.from_dict(data)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None

    def fingerprint(self) -> str:
        """Short stable hash of every field: results computed under another config never mix."""
        return fingerprint(to_dict(self, omit_added_defaults=True))

    def with_overrides(self, overrides: dict[str, Any]) -> ExperimentConfig:
        """Return a copy with dotted keys replaced, e.g. ``{"train.epochs": 5, "model.width": 0.5}``."""
        data = self.to_dict()
        for dotted, value in overrides.items():
            node = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                if not isinstance(node.get(key), dict):
                    raise ConfigError(
                        f"{dotted!r}: unknown config key (keys look like train.epochs; see fer3d best's JSON)"
                    )
                node = node[key]
            if leaf not in node:
                raise ConfigError(f"{dotted!r}: unknown config key (known here: {', '.join(sorted(node))})")
            node[leaf] = value
        return type(self).from_dict(data)


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """Parse ``key=value`` strings; values are JSON when they parse as JSON, else plain strings."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: not key=value (write it as e.g. --set train.epochs=5)")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def fingerprint(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def to_dict(obj: Any, *, omit_added_defaults: bool = False) -> Any:
    """Plain data of a config; ``omit_added_defaults`` leaves out the fields added later that still hold
    their default (see ``ADDED_LATER``), as the fingerprint does."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: to_dict(getattr(obj, f.name), omit_added_defaults=omit_added_defaults)
            for f in dataclasses.fields(obj)
            if not (
                omit_added_defaults
                and f.metadata.get("fingerprint_omits_default")
                and getattr(obj, f.name) == _default(f)
            )
        }
    if isinstance(obj, tuple):
        return [to_dict(v, omit_added_defaults=omit_added_defaults) for v in obj]
    return obj


def _default(f: dataclasses.Field[Any]) -> Any:
    """A field's default value, also for a ``default_factory`` field (a nested config section)."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


T = TypeVar("T")


def from_dict(cls: type[T], data: Any, where: str = "") -> T:
    """Build dataclass ``cls`` from plain data, checking keys, literal choices and basic types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'} must be an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in {where or 'config'}; known: {sorted(names)}")
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise ConfigError(f"{where} must be one of {list(choices)}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return tuple(float(v) for v in value)
    if origin in (typing.Union, types.UnionType):
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    return value
