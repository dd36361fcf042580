"""Subject-wise splitters. They work on label and subject arrays only and never read files.

Every split keeps each subject entirely on one side: no subject is ever in two folds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold


@dataclass(frozen=True)
class Fold:
    index: int
    train: np.ndarray  # indices into the clip store
    test: np.ndarray

    @property
    def name(self) -> str:
        return f"fold_{self.index:03d}"


def loso(subjects: np.ndarray) -> list[Fold]:
    """Leave-one-subject-out: one fold per subject, in sorted subject order."""
    subjects = np.asarray(subjects)
    folds = []
    for index, subject in enumerate(sorted(set(subjects.tolist()))):
        test = np.flatnonzero(subjects == subject)
        folds.append(Fold(index, np.flatnonzero(subjects != subject), test))
    return folds


def subject_kfold(labels: np.ndarray, subjects: np.ndarray, k: int = 10, seed: int = 0) -> list[Fold]:
    """Stratified by label, grouped by subject, shuffled with ``seed``."""
    subjects = np.asarray(subjects)
    n_subjects = len(set(subjects.tolist()))
    if k < 2 or k > n_subjects:
        raise ValueError(f"subject k-fold needs 2 <= k <= number of subjects ({n_subjects}), got k={k}")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    dummy = np.zeros(len(labels))
    return [
        Fold(index, np.sort(train), np.sort(test))
        for index, (train, test) in enumerate(splitter.split(dummy, labels, groups=subjects))
    ]


def make_folds(
    protocol: str, labels: np.ndarray, subjects: np.ndarray, *, k: int = 10, seed: int = 0
) -> list[Fold]:
    if protocol == "loso":
        return loso(subjects)
    if protocol == "kfold":
        return subject_kfold(labels, subjects, k=k, seed=seed)
    raise ValueError(f"unknown protocol {protocol!r}; use 'loso' or 'kfold'")


def folds_within(
    protocol: str,
    labels: np.ndarray,
    subjects: np.ndarray,
    within: np.ndarray | None,
    *,
    k: int = 10,
    seed: int = 0,
) -> list[Fold]:
    """:func:`make_folds` over the clips ``within`` only (all clips when ``None``), as store indices.

    A nested search splits its outer training part this way, so every inner fold has training and test
    clips however the outer split fell.
    """
    index = np.arange(len(labels)) if within is None else np.sort(np.asarray(within))
    folds = make_folds(protocol, labels[index], subjects[index], k=k, seed=seed)
    return [Fold(f.index, index[f.train], index[f.test]) for f in folds]
