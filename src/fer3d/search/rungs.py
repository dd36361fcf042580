"""Multi-fidelity search: cheap rungs screen a trial before the expensive objective.

A trial first runs each cheap rung (by default a subject 5-fold on half the epochs: 5 x 0.8 x 0.5 = 2
LOSO-fold trainings' worth, against 118 for a CK+-sized LOSO trial), reports its pooled accuracy there,
and goes on only while Optuna's :class:`~optuna.pruners.SuccessiveHalvingPruner` promotes it:
asynchronously, a trial is promoted when its score is in the top ``1 / reduction_factor`` of the scores
that rung has seen so far. The last rung is the search objective itself (LOSO by default), where exact
pruning acts after every fold.

Exact pruning stays exact: it runs only on the objective's own folds, against the threshold of that
objective, and never on a cheap rung (a cheap rung's accuracy is another quantity, so a trial failing the
threshold there could still pass the objective). A trial stopped by exact pruning is never shown to the
rung pruner afterwards (``verdict``), so it is never promoted and leaves no rung record behind.

Steps: cheap rung ``r`` reports at step ``reduction_factor ** r`` (the pruner's promotion step of rung
``r`` with ``min_resource=1``); the objective's folds report at ``reduction_factor ** n_rungs + fold``.

Every rung's folds are saved under ``OUT/rungs/<rung name>/<fingerprint of the rung's config>/``, so a
retried trial (a killed worker's) reuses every fold it finished, in every rung.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import optuna

from fer3d.config import ExperimentConfig
from fer3d.evaluation.splits import Fold, folds_within

FIDELITIES = ("single", "rungs")


@dataclass(frozen=True)
class Rung:
    """A cheap screen: the trial's config on subject k-fold, with a fraction of its epochs and optionally
    a smaller input."""

    k: int = 5
    epochs: float = 0.5  # fraction of the trial's epochs (the augmentation ramp and warm-up scale alike)
    size: int | None = None  # input size of the rung (None: the trial's)

    def __post_init__(self) -> None:
        if self.k < 2:
            raise ValueError(f"a rung needs k >= 2 folds, got {self.k}")
        if not 0.0 < self.epochs <= 1.0:
            raise ValueError(f"a rung's epoch fraction must be in (0, 1], got {self.epochs}")
        if self.size is not None and self.size < 16:
            raise ValueError(f"a rung's input size must be at least 16, got {self.size}")

    @property
    def name(self) -> str:
        return f"kfold{self.k}-epochs{self.epochs:g}" + (f"-size{self.size}" if self.size else "")

    def config(self, config: ExperimentConfig) -> ExperimentConfig:
        """The trial's config at this rung's cost."""
        train = config.train
        epochs = max(1, math.ceil(train.epochs * self.epochs))
        overrides: dict[str, object] = {
            "train.epochs": epochs,
            "train.augment.ramp_epochs": min(epochs, round(train.augment.ramp_epochs * self.epochs)),
        }
        if getattr(train, "warmup_epochs", 0):
            overrides["train.warmup_epochs"] = min(epochs - 1, round(train.warmup_epochs * self.epochs))
        if self.size is not None:
            overrides["input.size"] = self.size
        return config.with_overrides(overrides)

    def folds(
        self, labels: np.ndarray, subjects: np.ndarray, seed: int, subset: np.ndarray | None = None
    ) -> list[Fold]:
        """Subject k-fold over the store (or over ``subset`` only, for a nested search's inner part)."""
        return folds_within("kfold", labels, subjects, subset, k=self.k, seed=seed)


@dataclass(frozen=True)
class RungSchedule:
    rungs: tuple[Rung, ...] = (Rung(),)
    reduction_factor: int = 3  # promote the top third of each rung

    def __post_init__(self) -> None:
        if not self.rungs:
            raise ValueError("a rung schedule needs at least one cheap rung")
        if self.reduction_factor < 2:
            raise ValueError(f"reduction_factor must be at least 2, got {self.reduction_factor}")

    def pruner(self) -> optuna.pruners.SuccessiveHalvingPruner:
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=1, reduction_factor=self.reduction_factor, min_early_stopping_rate=0
        )

    def rung_step(self, rung: int) -> int:
        return self.reduction_factor**rung

    def objective_step(self, fold_step: int) -> int:
        return self.reduction_factor ** len(self.rungs) + fold_step

    def describe(self) -> dict[str, object]:
        """What a study must keep between restarts (part of its identity)."""
        return {"rungs": [r.name for r in self.rungs], "reduction_factor": self.reduction_factor}


def verdict(trial: optuna.Trial, exact_stop: bool, at_rung_end: bool) -> str | None:
    """Why to stop now (``"exact"`` or ``"rung"``), or None to go on.

    Exact pruning comes first: a trial it stops is not shown to the rung pruner, which would otherwise
    record the trial's score as a finished rung (and compare it, or promote it). The rung pruner is asked
    only at the end of a cheap rung.
    """
    if exact_stop:
        return "exact"
    if at_rung_end and trial.should_prune():
        return "rung"
    return None
