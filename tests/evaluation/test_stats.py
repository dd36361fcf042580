"""Each statistic against an independent computation (scipy/statsmodels on the same numbers, or by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from fer3d.evaluation.crossval import CVResult, FoldResult
from fer3d.evaluation.stats import (
    IncomparableResultsError,
    compare,
    corrected_resampled_t_test,
    fold_size_ratio,
    format_comparison,
    mcnemar_test,
    paired_t_test,
    wilcoxon_test,
)

A = np.array([0.91, 0.85, 0.88, 0.95, 0.80, 0.92, 0.87, 0.90, 0.83, 0.89])
B = np.array([0.86, 0.84, 0.81, 0.90, 0.82, 0.85, 0.80, 0.88, 0.79, 0.84])


def test_paired_t_matches_scipy() -> None:
    ours = paired_t_test(A, B)
    ref = sps.ttest_rel(A, B)
    assert ours.statistic == pytest.approx(ref.statistic)
    assert ours.p_value == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((ci.low, ci.high))
    d = A - B
    assert ours.effect == pytest.approx(d.mean() / d.std(ddof=1))


def test_corrected_t_is_paired_t_without_overlap_and_shrinks_with_it() -> None:
    plain = paired_t_test(A, B)
    assert corrected_resampled_t_test(A, B, 0.0).p_value == pytest.approx(plain.p_value)
    # by hand: t = mean / sqrt((1/J + r) var), df = J - 1 (Nadeau & Bengio 2003)
    d, r = A - B, 1 / 9
    t = d.mean() / math.sqrt((1 / len(d) + r) * d.var(ddof=1))
    ours = corrected_resampled_t_test(A, B, r)
    assert ours.statistic == pytest.approx(t)
    assert ours.p_value == pytest.approx(2 * sps.t.sf(abs(t), len(d) - 1))
    assert ours.p_value > plain.p_value
    assert ours.ci_high - ours.ci_low > plain.ci_high - plain.ci_low


def test_wilcoxon_matches_scipy_and_rank_biserial_by_hand() -> None:
    ours = wilcoxon_test(A, B)
    ref = sps.wilcoxon(A, B)
    assert ours.statistic == pytest.approx(ref.statistic)
    assert ours.p_value == pytest.approx(ref.pvalue)
    # d = [1, -2, 3, 4]: ranks 1..4, W+ = 8, W- = 2, r = (8 - 2) / 10
    small = wilcoxon_test(np.array([1.0, 0.0, 3.0, 4.0]), np.zeros(4) + np.array([0.0, 2.0, 0.0, 0.0]))
    assert small.effect == pytest.approx(0.6)


def test_wilcoxon_drops_zero_differences() -> None:
    a, b = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 0.4]), np.array([0.5, 0.5, 0.6, 0.6, 0.7, 0.2])
    ours = wilcoxon_test(a, b)
    assert ours.p_value == pytest.approx(sps.wilcoxon(a[1:], b[1:]).pvalue)
    assert "1 zero" in ours.note


@pytest.mark.parametrize("n01,n10", [(7, 2), (30, 14)])
def test_mcnemar_matches_statsmodels(n01: int, n10: int) -> None:
    both_right, both_wrong = 40, 5
    labels = np.zeros(both_right + both_wrong + n01 + n10, dtype=int)
    pred_a = np.concatenate([np.zeros(both_right), np.ones(both_wrong), np.zeros(n01), np.ones(n10)]).astype(
        int
    )
    pred_b = np.concatenate([np.zeros(both_right), np.ones(both_wrong), np.ones(n01), np.zeros(n10)]).astype(
        int
    )
    table = [[both_right, n01], [n10, both_wrong]]
    exact = n01 + n10 < 25
    ref = sm_mcnemar(table, exact=exact, correction=True)
    ours = mcnemar_test(labels, pred_a, pred_b)
    assert ours.p_value == pytest.approx(ref.pvalue)
    assert ours.statistic == pytest.approx(ref.statistic)
    assert ours.effect == pytest.approx(n01 / n10)
    assert ours.ci_low < ours.effect < ours.ci_high
    assert ("exact" in ours.note) == exact


def _result(
    fold_tests: list[list[int]], preds: list[list[int]], labels: np.ndarray, ids: list[str]
) -> CVResult:
    folds = [
        FoldResult(i, t, p, [], float(np.mean(labels[t] == np.array(p))), 0.0, [])
        for i, (t, p) in enumerate(zip(fold_tests, preds, strict=True))
    ]
    return CVResult("kfold", folds, labels, ("x", "y"), ids, [])


def test_compare_pairs_results_and_refuses_other_folds_or_sequences() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 30)
    ids = [f"s{i}" for i in range(30)]
    tests = [list(range(i, 30, 5)) for i in range(5)]
    a = _result(tests, [labels[t].tolist() for t in tests], labels, ids)
    b = _result(tests, [rng.integers(0, 2, len(t)).tolist() for t in tests], labels, ids)
    comparison = compare(a, b)
    assert comparison.n_folds == 5 and comparison.n_sequences == 30
    assert len(comparison.tests) == 4
    assert "McNemar" in format_comparison(comparison)
    assert fold_size_ratio(a) == pytest.approx(6 / 24)
    other_folds = [list(range(0, 6)), *[list(range(6 * i, 6 * i + 6)) for i in range(1, 5)]]
    c = _result(other_folds, [labels[t].tolist() for t in other_folds], labels, ids)
    with pytest.raises(IncomparableResultsError, match="different folds"):
        compare(a, c)
    d = _result(tests, [labels[t].tolist() for t in tests], labels, [f"t{i}" for i in range(30)])
    with pytest.raises(IncomparableResultsError, match="different sequences"):
        compare(a, d)
