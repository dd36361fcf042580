"""The searched space: exactly the paper's Table 1 (``paper``), or ``extended`` beyond it.

Each dimension maps one Optuna parameter name to one dotted :class:`~fer3d.config.ExperimentConfig`
field, so a trial's parameters turn into a config with ``with_overrides`` and nothing else.

``extended`` adds what the paper fixed: learning rate, weight decay, epochs, input size, width, the
training techniques (label smoothing, weight EMA, mixup/cutmix, AdamW) and a temporal head. The paper's
two final configurations (``fer3d.presets.PRESETS``) are points of either space: ``warm_start_params``
gives them as trial parameters, enqueued as a study's first trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna

from fer3d.config import TEMPORAL_KERNELS, ExperimentConfig


@dataclass(frozen=True)
class Categorical:
    name: str  # Optuna parameter name
    field: str  # dotted config key
    choices: tuple[Any, ...]


@dataclass(frozen=True)
class Uniform:
    name: str
    field: str
    low: float
    high: float
    log: bool = False


Dimension = Categorical | Uniform

# The paper's Table 1, in its order. Changing this tuple changes what "the paper's space" means.
TABLE1: tuple[Dimension, ...] = (
    Categorical("optimizer", "train.optimizer", ("adam", "lookahead_adam")),
    Categorical("clahe", "input.clahe", (True, False)),
    Categorical("normalize", "input.normalize", (True, False)),
    Categorical("activation", "model.activation", ("relu", "elu", "prelu", "leaky_relu", "mish")),
    Categorical("class_weights", "train.class_weights", (True, False)),
    Categorical("temporal_kernel", "model.temporal_kernel", TEMPORAL_KERNELS),
    Categorical("init", "model.init", ("xavier_uniform", "xavier_normal")),
    Categorical("pooling", "model.pooling", ("avg", "max")),
    Categorical("extra_block", "model.extra_block", (True, False)),
    Uniform("dropout", "model.dropout", 0.0, 1.0),
)

# Not in the paper: off unless asked for (``--search-lr``). The profile's lr is used otherwise.
LEARNING_RATE = Uniform("lr", "train.lr", 1e-4, 1e-2, log=True)

# Beyond the paper (``--space extended``). The Table 1 optimizer choice widens to AdamW (decoupled weight
# decay); sizes, widths and epochs span the CPU profile (40 px, 0.25, 28) to the paper's scale.
EXTENDED: tuple[Dimension, ...] = (
    Categorical("optimizer", "train.optimizer", ("adam", "lookahead_adam", "adamw", "lookahead_adamw")),
    *(d for d in TABLE1 if d.name != "optimizer"),
    LEARNING_RATE,
    Categorical("weight_decay", "train.weight_decay", (0.0, 1e-5, 1e-4, 1e-3, 1e-2)),
    Categorical("epochs", "train.epochs", (14, 20, 28, 40)),
    Categorical("size", "input.size", (32, 40, 48, 64, 112)),
    Categorical("width", "model.width", (0.125, 0.25, 0.5, 1.0)),
    Uniform("label_smoothing", "train.label_smoothing", 0.0, 0.2),
    Categorical("ema_decay", "train.ema_decay", (0.0, 0.99, 0.995, 0.999)),
    Categorical("mix", "train.mix", ("none", "mixup", "cutmix")),
    Categorical("temporal_head", "model.temporal_head", ("none", "lstm", "attention")),
)

SPACES = ("paper", "extended")


def dimensions(search_lr: bool = False, space: str = "paper") -> tuple[Dimension, ...]:
    """The dimensions of ``space``; ``search_lr`` adds the learning rate to the paper's (extended has it)."""
    if space == "extended":
        return EXTENDED
    if space != "paper":
        raise ValueError(f"unknown search space {space!r}; choose one of {list(SPACES)}")
    return TABLE1 + ((LEARNING_RATE,) if search_lr else ())


def suggest(trial: optuna.Trial, search_lr: bool = False, space: str = "paper") -> dict[str, Any]:
    """Draw one point of the space; returns dotted config overrides, e.g. ``{"model.pooling": "max"}``."""
    overrides: dict[str, Any] = {}
    for dim in dimensions(search_lr, space):
        if isinstance(dim, Categorical):
            overrides[dim.field] = trial.suggest_categorical(dim.name, dim.choices)
        else:
            overrides[dim.field] = trial.suggest_float(dim.name, dim.low, dim.high, log=dim.log)
    return overrides


def params_to_overrides(params: dict[str, Any]) -> dict[str, Any]:
    """Optuna parameter names -> dotted config keys (for trials read back from storage)."""
    by_name = {d.name: d.field for d in dimensions(search_lr=True) + EXTENDED}
    return {by_name[name]: value for name, value in params.items()}


def warm_start_params(
    base: ExperimentConfig,
    presets: dict[str, ExperimentConfig],
    search_lr: bool = False,
    space: str = "paper",
) -> dict[str, dict[str, Any]]:
    """Each preset as trial parameters of the space: its Table 1 choices on top of ``base`` (the study's
    profile), read back dimension by dimension. A value outside a dimension (e.g. a profile's epochs not
    among the extended choices) is left out, so the sampler draws it."""
    out: dict[str, dict[str, Any]] = {}
    for name, preset in presets.items():
        config = base.with_overrides({d.field: _field(preset, d.field) for d in TABLE1})
        params = {}
        for dim in dimensions(search_lr, space):
            value = _field(config, dim.field)
            if _contains(dim, value):
                params[dim.name] = value
        out[name] = params
    return out


def _field(config: ExperimentConfig, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def _contains(dim: Dimension, value: Any) -> bool:
    if isinstance(dim, Categorical):
        return any(value == c and type(value) is type(c) for c in dim.choices)
    return isinstance(value, float) and dim.low <= value <= dim.high


def markdown_table(search_lr: bool = False, space: str = "paper") -> str:
    """The space as a markdown table (the README's copy is checked against this)."""
    rows = ["| Parameter | Config field | Choices |", "| --- | --- | --- |"]
    for dim in dimensions(search_lr, space):
        if isinstance(dim, Categorical):
            choices = ", ".join(str(c).lower() if isinstance(c, bool) else str(c) for c in dim.choices)
        else:
            choices = f"float in [{dim.low:g}, {dim.high:g}]" + (" (log)" if dim.log else "")
        rows.append(f"| {dim.name} | `{dim.field}` | {choices} |")
    return "\n".join(rows)
