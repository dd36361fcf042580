"""The searched space: exactly the paper's Table 1, plus opt-in extra dimensions.

Each dimension maps one Optuna parameter name to one dotted :class:`~fer3d.config.ExperimentConfig`
field, so a trial's parameters turn into a config with ``with_overrides`` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna

from fer3d.config import TEMPORAL_KERNELS


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


def dimensions(search_lr: bool = False) -> tuple[Dimension, ...]:
    return TABLE1 + ((LEARNING_RATE,) if search_lr else ())


def suggest(trial: optuna.Trial, search_lr: bool = False) -> dict[str, Any]:
    """Draw one point of the space; returns dotted config overrides, e.g. ``{"model.pooling": "max"}``."""
    overrides: dict[str, Any] = {}
    for dim in dimensions(search_lr):
        if isinstance(dim, Categorical):
            overrides[dim.field] = trial.suggest_categorical(dim.name, dim.choices)
        else:
            overrides[dim.field] = trial.suggest_float(dim.name, dim.low, dim.high, log=dim.log)
    return overrides


def params_to_overrides(params: dict[str, Any]) -> dict[str, Any]:
    """Optuna parameter names -> dotted config keys (for trials read back from storage)."""
    by_name = {d.name: d.field for d in dimensions(search_lr=True)}
    return {by_name[name]: value for name, value in params.items()}


def markdown_table(search_lr: bool = False) -> str:
    """The space as a markdown table (the README's copy is checked against this)."""
    rows = ["| Parameter | Config field | Choices |", "| --- | --- | --- |"]
    for dim in dimensions(search_lr):
        if isinstance(dim, Categorical):
            choices = ", ".join(str(c).lower() if isinstance(c, bool) else str(c) for c in dim.choices)
        else:
            choices = f"float in [{dim.low:g}, {dim.high:g}]" + (" (log)" if dim.log else "")
        rows.append(f"| {dim.name} | `{dim.field}` | {choices} |")
    return "\n".join(rows)
