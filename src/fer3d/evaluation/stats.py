"""Significance of the difference between two cross-validation results on the same folds.

Four tests, each with a p-value, an effect size and a confidence interval:

- paired t-test on fold accuracies (effect: Cohen's d_z = mean / sd of the differences);
- Wilcoxon signed-rank on fold accuracies (effect: matched-pairs rank-biserial correlation);
- Nadeau-Bengio corrected resampled t-test: the paired t-test with its variance inflated by
  ``n_test / n_train`` because training sets overlap between folds, which makes the plain t-test too
  optimistic (Nadeau & Bengio 2003, Bouckaert & Frank 2004);
- McNemar's test on the pooled per-sequence predictions (effect: odds ratio of the discordant pairs);
  exact binomial when there are fewer than 25 discordant pairs, chi-square with continuity otherwise.

The distributions come from scipy; nothing here re-implements a CDF.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from fer3d.evaluation.crossval import CVResult

EXACT_MCNEMAR_BELOW = 25  # discordant pairs; the usual rule of thumb for the chi-square approximation


class IncomparableResultsError(ValueError):
    """The two results were not computed on the same sequences and folds, so pairing them is meaningless."""


@dataclass(frozen=True)
class StatResult:
    name: str
    statistic: float
    p_value: float
    effect_name: str
    effect: float
    ci_name: str  # what the confidence interval is an interval of
    ci_low: float
    ci_high: float
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def _diffs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(
            f"need two equally long 1-D score lists with at least 2 entries, got {a.shape} and {b.shape}"
        )
    return a - b


def _t_interval(mean: float, se: float, df: int, confidence: float) -> tuple[float, float]:
    half = stats.t.ppf(0.5 + confidence / 2, df) * se
    return mean - half, mean + half


def _t_test(d: np.ndarray, variance_factor: float, name: str, confidence: float, note: str) -> StatResult:
    """t statistic of mean(d) with standard error sqrt(variance_factor * var(d)), df = J - 1."""
    mean, sd, df = float(d.mean()), float(d.std(ddof=1)), len(d) - 1
    se = math.sqrt(variance_factor) * sd
    if se == 0.0:  # every fold differs by the same amount: no variance to test against
        t, p = (0.0, 1.0) if mean == 0.0 else (math.copysign(math.inf, mean), 0.0)
        note = (note + " " if note else "") + "all fold differences are equal (zero variance)"
    else:
        t = mean / se
        p = float(2 * stats.t.sf(abs(t), df))
    d_z = mean / sd if sd > 0 else (0.0 if mean == 0 else math.copysign(math.inf, mean))
    low, high = _t_interval(mean, se, df, confidence)
    return StatResult(
        name, float(t), p, "Cohen's d_z", float(d_z), "mean accuracy difference (A - B)", low, high, note
    )


def paired_t_test(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> StatResult:
    """Paired t-test on per-fold scores (the textbook test; optimistic for cross-validation)."""
    d = _diffs(a, b)
    return _t_test(d, 1.0 / len(d), "paired t-test (fold accuracies)", confidence, "")


def corrected_resampled_t_test(
    a: np.ndarray, b: np.ndarray, test_train_ratio: float, confidence: float = 0.95
) -> StatResult:
    """Nadeau-Bengio: ``t = mean(d) / sqrt((1/J + n_test/n_train) * var(d))``, df ``J - 1``."""
    d = _diffs(a, b)
    if test_train_ratio < 0:
        raise ValueError(f"test_train_ratio must be >= 0, got {test_train_ratio}")
    return _t_test(
        d,
        1.0 / len(d) + test_train_ratio,
        "Nadeau-Bengio corrected t-test",
        confidence,
        f"n_test/n_train = {test_train_ratio:.4f}",
    )


def wilcoxon_test(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> StatResult:
    """Wilcoxon signed-rank on per-fold scores (zero differences dropped, as in Wilcoxon's original).

    Effect: matched-pairs rank-biserial ``r = (W+ - W-) / (W+ + W-)``. Interval: the Hodges-Lehmann
    estimate's confidence interval is not given; instead a percentile interval of the median difference
    from a seeded bootstrap over folds.
    """
    d = _diffs(a, b)
    nonzero = d[d != 0]
    if len(nonzero) == 0:
        stat, p, r, note = 0.0, 1.0, 0.0, "all fold differences are zero"
    else:
        res = stats.wilcoxon(nonzero)
        stat, p = float(res.statistic), float(res.pvalue)
        ranks = stats.rankdata(np.abs(nonzero))
        w_plus, w_minus = ranks[nonzero > 0].sum(), ranks[nonzero < 0].sum()
        r = float((w_plus - w_minus) / (w_plus + w_minus))
        note = f"{len(d) - len(nonzero)} zero difference(s) dropped" if len(nonzero) < len(d) else ""
    rng = np.random.default_rng(0)
    boot = np.median(d[rng.integers(0, len(d), size=(5000, len(d)))], axis=1)
    low, high = np.quantile(boot, [0.5 - confidence / 2, 0.5 + confidence / 2])
    return StatResult(
        "Wilcoxon signed-rank (fold accuracies)",
        stat,
        p,
        "rank-biserial r",
        r,
        "median accuracy difference (bootstrap)",
        float(low),
        float(high),
        note,
    )


def mcnemar_test(
    labels: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, confidence: float = 0.95
) -> StatResult:
    """McNemar's test on pooled predictions of the same sequences.

    ``n01`` = A right and B wrong, ``n10`` = A wrong and B right. Exact two-sided binomial test when
    ``n01 + n10 < 25``, else chi-square ``(|n01 - n10| - 1)^2 / (n01 + n10)`` with 1 degree of freedom.
    Effect: odds ratio ``n01 / n10`` (Haldane's +0.5 when a count is zero) with a Wald interval on its log.
    """
    labels, pred_a, pred_b = (np.asarray(x) for x in (labels, pred_a, pred_b))
    if not (labels.shape == pred_a.shape == pred_b.shape):
        raise ValueError("labels and both prediction lists must have the same length")
    right_a, right_b = pred_a == labels, pred_b == labels
    n01, n10 = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    n = n01 + n10
    if n == 0:
        stat, p, method = 0.0, 1.0, "no discordant pairs"
    elif n < EXACT_MCNEMAR_BELOW:
        stat, p, method = float(min(n01, n10)), float(stats.binomtest(n01, n, 0.5).pvalue), "exact binomial"
    else:
        stat = (abs(n01 - n10) - 1) ** 2 / n
        p, method = float(stats.chi2.sf(stat, 1)), "chi-square with continuity correction"
    haldane = 0.5 if min(n01, n10) == 0 else 0.0
    odds = (n01 + haldane) / (n10 + haldane)
    se = math.sqrt(1 / (n01 + haldane) + 1 / (n10 + haldane)) if n else math.inf
    z = stats.norm.ppf(0.5 + confidence / 2)
    low, high = (
        (math.exp(math.log(odds) - z * se), math.exp(math.log(odds) + z * se)) if n else (0.0, math.inf)
    )
    return StatResult(
        "McNemar (pooled predictions)",
        float(stat),
        p,
        "odds ratio (A right & B wrong : A wrong & B right)",
        float(odds),
        "odds ratio",
        low,
        high,
        f"{method}; A right & B wrong = {n01}, A wrong & B right = {n10}",
    )


def check_comparable(a: CVResult, b: CVResult, names: tuple[str, str] = ("A", "B")) -> None:
    """Refuse two results unless they hold the same sequences, labels and fold test sets."""
    na, nb = names
    if list(a.sequence_ids) != list(b.sequence_ids):
        raise IncomparableResultsError(
            f"{na} and {nb} were computed on different sequences ({len(a.sequence_ids)} vs "
            f"{len(b.sequence_ids)} clips, or another order): compare results from the same clip cache"
        )
    if not np.array_equal(a.labels, b.labels):
        raise IncomparableResultsError(f"{na} and {nb} have different labels for the same sequences")
    folds_a = {f.fold: sorted(f.test_indices) for f in a.folds}
    folds_b = {f.fold: sorted(f.test_indices) for f in b.folds}
    if folds_a != folds_b:
        differing = sorted(k for k in set(folds_a) | set(folds_b) if folds_a.get(k) != folds_b.get(k))
        raise IncomparableResultsError(
            f"{na} ({a.protocol}, {len(a.folds)} folds) and {nb} ({b.protocol}, {len(b.folds)} folds) used "
            f"different folds (first differing fold: {differing[0]}): rerun one with the same --protocol, "
            "--k and --split-seed"
        )


@dataclass(frozen=True)
class Comparison:
    accuracy_a: float
    accuracy_b: float
    n_folds: int
    n_sequences: int
    tests: tuple[StatResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy_a": self.accuracy_a,
            "accuracy_b": self.accuracy_b,
            "n_folds": self.n_folds,
            "n_sequences": self.n_sequences,
            "tests": [t.to_dict() for t in self.tests],
        }


def fold_size_ratio(result: CVResult) -> float:
    """Mean ``n_test / n_train`` over the folds (a tested clip is in the training set of every other fold)."""
    total = len(result.tested)
    return float(np.mean([len(f.test_indices) / (total - len(f.test_indices)) for f in result.folds]))


def compare(
    a: CVResult, b: CVResult, confidence: float = 0.95, names: tuple[str, str] = ("A", "B")
) -> Comparison:
    check_comparable(a, b, names)
    order_b = {f.fold: f for f in b.folds}
    folds_a = sorted(a.folds, key=lambda f: f.fold)
    acc_a = np.array([f.accuracy for f in folds_a])
    acc_b = np.array([order_b[f.fold].accuracy for f in folds_a])
    # pooled predictions, aligned by clip index
    pred_a = dict(zip(a.tested.tolist(), a.predictions.tolist(), strict=True))
    pred_b = dict(zip(b.tested.tolist(), b.predictions.tolist(), strict=True))
    index = sorted(pred_a)
    tests = (
        paired_t_test(acc_a, acc_b, confidence),
        wilcoxon_test(acc_a, acc_b, confidence),
        corrected_resampled_t_test(acc_a, acc_b, fold_size_ratio(a), confidence),
        mcnemar_test(
            a.labels[index],
            np.array([pred_a[i] for i in index]),
            np.array([pred_b[i] for i in index]),
            confidence,
        ),
    )
    return Comparison(a.pooled_accuracy, b.pooled_accuracy, len(folds_a), len(index), tests)


def format_comparison(
    comparison: Comparison, names: tuple[str, str] = ("A", "B"), confidence: float = 0.95
) -> str:
    na, nb = names
    lines = [
        f"A = {na}: pooled accuracy {100 * comparison.accuracy_a:.2f}%",
        f"B = {nb}: pooled accuracy {100 * comparison.accuracy_b:.2f}%",
        f"{comparison.n_folds} paired folds, {comparison.n_sequences} paired sequences",
        "",
    ]
    for t in comparison.tests:
        lines += [
            t.name,
            f"  statistic {t.statistic:.4g}   p = {t.p_value:.4g}",
            f"  {t.effect_name}: {t.effect:.4g}",
            f"  {100 * confidence:.0f}% CI of {t.ci_name}: [{t.ci_low:.4g}, {t.ci_high:.4g}]",
        ]
        if t.note:
            lines.append(f"  note: {t.note}")
    return "\n".join(lines)
