from __future__ import annotations

from fractions import Fraction

import optuna
import pytest

from fer3d.search.pruning import best_reachable, cannot_reach, optuna_pruner

THRESHOLDS = (0.0, 0.5, 0.85, 0.9, 0.965, 17 / 20, 2 / 3, 1.0)


def _could_still_pass(correct: int, tested: int, total: int, threshold: float) -> bool:
    """Brute force: some outcome of the remaining sequences ends at or above the threshold."""
    return any(Fraction(correct + r, total) >= Fraction(threshold) for r in range(total - tested + 1))


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_prunes_exactly_the_trials_that_cannot_pass(threshold: float) -> None:
    for total in range(1, 21):
        for tested in range(total + 1):
            for correct in range(tested + 1):
                possible = _could_still_pass(correct, tested, total, threshold)
                # Tolerant to float rounding of the threshold only in the "keep" direction.
                if possible:
                    assert not cannot_reach(correct, tested, total, threshold), (correct, tested, total)
                elif Fraction(correct + total - tested, total) < Fraction(threshold) - Fraction(1, 10**6):
                    assert cannot_reach(correct, tested, total, threshold), (correct, tested, total)


def test_a_trial_exactly_at_the_threshold_is_kept() -> None:
    assert not cannot_reach(correct=17, tested=20, total=20, threshold=0.85)
    assert not cannot_reach(correct=193, tested=200, total=200, threshold=0.965)
    assert cannot_reach(correct=192, tested=200, total=200, threshold=0.965)


def test_best_reachable_counts_remaining_sequences_as_right() -> None:
    assert best_reachable(correct=3, tested=5, total=10) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="correct <= tested"):
        best_reachable(correct=6, tested=5, total=10)


def test_optuna_pruners_by_name() -> None:
    assert isinstance(optuna_pruner("exact"), optuna.pruners.NopPruner)
    assert isinstance(optuna_pruner("none"), optuna.pruners.NopPruner)
    assert isinstance(optuna_pruner("median"), optuna.pruners.MedianPruner)
    assert isinstance(optuna_pruner("wilcoxon"), optuna.pruners.WilcoxonPruner)
    with pytest.raises(ValueError, match="unknown pruner"):
        optuna_pruner("hyperband")
