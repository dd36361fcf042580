"""Exact pruning: stop a trial only when it can no longer reach the threshold.

After each fold, the best pooled accuracy a trial can still end with is reached if every sequence not yet
tested were classified right: ``(correct so far + remaining) / total``. Below the threshold the trial can
never pass, so stopping it loses nothing; at or above it the trial always goes on.
"""

from __future__ import annotations

import optuna

# A trial that could pass by a rounding error is kept: pruning must never cost a passing trial.
_TOLERANCE = 1e-9


def best_reachable(correct: int, tested: int, total: int) -> float:
    """Highest pooled accuracy still possible after ``tested`` of ``total`` sequences, ``correct`` right."""
    if not 0 <= correct <= tested <= total or total <= 0:
        raise ValueError(
            f"need 0 <= correct <= tested <= total and total > 0, got {correct}, {tested}, {total}"
        )
    return (correct + (total - tested)) / total


def cannot_reach(correct: int, tested: int, total: int, threshold: float) -> bool:
    """True when the threshold is out of reach even if every remaining sequence were right."""
    return best_reachable(correct, tested, total) + _TOLERANCE < threshold


PRUNERS = ("exact", "median", "wilcoxon", "none")


def optuna_pruner(name: str) -> optuna.pruners.BasePruner:
    """Optuna's pruner on top of exact pruning (``exact`` and ``none`` use no Optuna pruner).

    Median compares the pooled accuracy so far with other trials at the same fold; Wilcoxon compares
    per-fold accuracies with the best trial's on the same folds (the objective reports those instead).
    """
    if name in ("exact", "none"):
        return optuna.pruners.NopPruner()
    if name == "median":
        # Folds are in the same order in every trial, so step i means the same subjects everywhere.
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    if name == "wilcoxon":
        return optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=2)
    raise ValueError(f"unknown pruner {name!r}; choose one of {list(PRUNERS)}")
